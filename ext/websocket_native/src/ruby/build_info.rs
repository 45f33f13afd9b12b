//! `WebSocket::Native.build_info`: versions of the Rust libraries built in (read from Cargo.lock
//! by build.rs, so they cannot drift from what was compiled).

use magnus::{function, prelude::*, Error, RHash, RModule, Ruby};

fn build_info(ruby: &Ruby) -> Result<RHash, Error> {
    let hash = ruby.hash_new();
    for (name, version) in [
        ("rustls", env!("WSN_VERSION_RUSTLS")),
        ("tungstenite", env!("WSN_VERSION_TUNGSTENITE")),
        ("tokio", env!("WSN_VERSION_TOKIO")),
        ("tokio-tungstenite", env!("WSN_VERSION_TOKIO_TUNGSTENITE")),
        ("ring", env!("WSN_VERSION_RING")),
        ("magnus", env!("WSN_VERSION_MAGNUS")),
    ] {
        hash.aset(name, version)?;
    }
    Ok(hash)
}

pub fn init(native: RModule) -> Result<(), Error> {
    native.define_singleton_method("build_info", function!(build_info, 0))?;
    Ok(())
}
