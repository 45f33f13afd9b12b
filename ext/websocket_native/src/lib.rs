//! websocket-native: a WebSocket client whose sockets, timers and protocol live on tokio, driven from Ruby.

mod commands;
mod decode;
mod dial;
mod dns;
mod encode;
mod inbox;
mod pool;
mod probe;
mod reader;
mod ruby;
mod runtime;
mod session;
mod sockets;
mod tls;
mod tls_keys;
mod tls_stream;
mod transport;
mod trim;
mod waves;
mod writer;

#[magnus::init]
fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
    runtime::install_fork_hook();
    ruby::init(ruby)
}
