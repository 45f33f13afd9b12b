//! Passes the versions of the main dependencies, as locked in Cargo.lock, to the crate
//! (`WebSocket::Native.build_info` and `websocket-native version` report them).

use std::path::Path;

const CRATES: [(&str, &str); 6] = [
    ("rustls", "WSN_VERSION_RUSTLS"),
    ("tungstenite", "WSN_VERSION_TUNGSTENITE"),
    ("tokio", "WSN_VERSION_TOKIO"),
    ("tokio-tungstenite", "WSN_VERSION_TOKIO_TUNGSTENITE"),
    ("ring", "WSN_VERSION_RING"),
    ("magnus", "WSN_VERSION_MAGNUS"),
];

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let lock = Path::new(&dir).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for (name, var) in CRATES {
        let version = locked_version(&text, name).unwrap_or_else(|| "unknown".to_string());
        println!("cargo:rustc-env={var}={version}");
    }
}

/// The version of the first `[[package]]` called `name` (the one the crate links).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let next = lines.next()?;
            let version = next.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}
