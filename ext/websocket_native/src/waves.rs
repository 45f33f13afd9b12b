//! Dials to one host go in waves: at most `WAVE` at a time. 1000 dials at once overflow a
//! server's listen queue, and every dropped SYN costs a 1 s retry; 64 at a time opened them in a
//! tenth of that (doc/DESIGN.md has the numbers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use once_cell::sync::Lazy;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Dials to one host:port in progress at once.
const WAVE: usize = 64;

static GATES: Lazy<Mutex<HashMap<String, Arc<Semaphore>>>> = Lazy::new(Mutex::default);

/// Waits for a turn to dial `authority`; hold the result until the dial ends. After `patience`
/// (the connect timeout) it goes ahead without a turn: hosts that do not answer must not keep
/// others waiting for longer than a dial of their own could take.
pub async fn turn(authority: &str, patience: Duration) -> Option<OwnedSemaphorePermit> {
    let gate = {
        let mut gates = GATES.lock().unwrap_or_else(|p| p.into_inner());
        // Forget hosts nobody is dialing, so a long-lived process does not collect them.
        // (A permit holds the Arc too.)
        gates.retain(|_, g| Arc::strong_count(g) > 1);
        gates
            .entry(authority.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(WAVE)))
            .clone()
    };
    tokio::time::timeout(patience, gate.acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
}
