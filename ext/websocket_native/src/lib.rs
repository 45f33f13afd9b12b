//! websocket-native: a WebSocket client whose sockets, timers and protocol live on tokio, driven from Ruby.

mod dial;
mod inbox;
mod probe;
mod ruby;
mod runtime;
mod session;
mod tls;
mod transport;

#[magnus::init]
fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
    ruby::init(ruby)
}
