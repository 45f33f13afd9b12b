//! websocket-native: a WebSocket client whose sockets, timers and protocol live on tokio, driven from Ruby.

mod dial;
mod dns;
mod inbox;
mod ruby;
mod runtime;
mod session;
mod sockets;
mod tls;
mod transport;

#[magnus::init]
fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
    ruby::init(ruby)
}
