//! After a burst of connection setups, the memory their handshakes used is handed back to the
//! OS. glibc keeps freed pages inside its heaps when anything still in use lies above them, and
//! thousands of dials leave many such pages: about 2-4 KiB per connection stayed resident,
//! a third of what an idle connection needs (doc/DESIGN.md, "Performance and footprint").
//!
//! When the last dial in progress ends, at least `BURST` dials ended since the last time and
//! the last trim is 30 s ago, `malloc_trim(0)` runs once on tokio's blocking pool (dials that
//! overlap without pause for ever never trigger it). `WEBSOCKET_NATIVE_MALLOC_TRIM=0` turns
//! it off. Other allocators and libcs: nothing happens.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use once_cell::sync::Lazy;

use crate::transport::now_ms;

/// Dials that must have ended since the last trim for another to run.
const BURST: usize = 64;
/// At most one trim in this long: it locks each of glibc's heaps in turn while it walks it.
const INTERVAL_MS: u64 = 30_000;

static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);
static ENDED: AtomicUsize = AtomicUsize::new(0);
/// When the last trim ran (`transport::now_ms`), plus one; 0 for never.
static LAST: AtomicU64 = AtomicU64::new(0);

static ENABLED: Lazy<bool> =
    Lazy::new(|| std::env::var("WEBSOCKET_NATIVE_MALLOC_TRIM").map_or(true, |v| v != "0"));

/// Held for the length of one dial (dropped once the dial's own state is freed).
pub struct Dialing(());

pub fn dialing() -> Dialing {
    IN_PROGRESS.fetch_add(1, Ordering::AcqRel);
    Dialing(())
}

impl Drop for Dialing {
    fn drop(&mut self) {
        let ended = ENDED.fetch_add(1, Ordering::AcqRel) + 1;
        let last = IN_PROGRESS.fetch_sub(1, Ordering::AcqRel) == 1;
        let now = now_ms() + 1;
        let last_trim = LAST.load(Ordering::Acquire);
        let rested = last_trim == 0 || now.saturating_sub(last_trim) >= INTERVAL_MS;
        if last && ended >= BURST && rested && *ENABLED {
            ENDED.store(0, Ordering::Release);
            LAST.store(now, Ordering::Release);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(give_back);
            }
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back() {
    // SAFETY: malloc_trim only releases free memory of glibc's own heaps.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back() {}
