//! Freed memory goes back to the OS after bursts. glibc keeps freed pages inside its heaps when
//! anything still in use lies above them, and after large blocks it even stops mapping them
//! separately (its mmap threshold rises), so:
//! - thousands of dials left 2-4 KiB per connection of their handshakes' memory resident, a
//!   third of what an idle connection needs;
//! - after large messages the process kept their peak, though nothing held them any more.
//!
//! So `malloc_trim(0)` runs on tokio's blocking pool:
//! - when the last dial in progress ends and at least `BURST` dials ended since the last time;
//! - after a Ruby GC (whose sweep frees the Strings that carried messages) during the
//!   `SETTLE_MS` after such a burst, or after large messages stopped arriving (a lull of
//!   `LULL_MS`, so a steady stream of them does not pay for pages given back and taken again).
//!
//! At most once per `INTERVAL_MS` (it locks each of glibc's heaps in turn while it walks it); a
//! trim asked for sooner waits for its turn rather than being dropped.
//! `WEBSOCKET_NATIVE_MALLOC_TRIM=0` turns it off; other allocators and libcs: nothing happens.
//! doc/DESIGN.md, "Performance and footprint", has the measurements.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use once_cell::sync::Lazy;

use crate::runtime;
use crate::transport::now_ms;

/// Dials that must have ended since the last burst for another to count.
const BURST: usize = 64;
/// A message this large counts as large.
const LARGE: usize = 128 * 1024;
/// How long after a burst of dials a GC is followed by a trim.
const SETTLE_MS: u64 = 5_000;
/// How long without large messages before a GC is followed by a trim, and for how long after.
const LULL_MS: u64 = 250;
const LULL_END_MS: u64 = 10_000;
const INTERVAL_MS: u64 = 1_000;

static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);
static ENDED: AtomicUsize = AtomicUsize::new(0);
/// Times on the `now_ms` clock, plus one (0: never).
static LAST_TRIM: AtomicU64 = AtomicU64::new(0);
static LAST_BURST: AtomicU64 = AtomicU64::new(0);
static LAST_LARGE: AtomicU64 = AtomicU64::new(0);
static QUEUED: AtomicBool = AtomicBool::new(false);
/// The burst and the last large message a GC's trim already covered.
static COVERED_BURST: AtomicU64 = AtomicU64::new(0);
static COVERED_LARGE: AtomicU64 = AtomicU64::new(0);

static ENABLED: Lazy<bool> =
    Lazy::new(|| std::env::var("WEBSOCKET_NATIVE_MALLOC_TRIM").map_or(true, |v| v != "0"));

fn now() -> u64 {
    now_ms() + 1
}

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
        if last && ended >= BURST {
            ENDED.store(0, Ordering::Release);
            LAST_BURST.store(now(), Ordering::Release);
            on_current_runtime();
        }
    }
}

/// Notes a message handed to Ruby (on the Ruby thread, as events are drained).
pub fn delivered(len: usize) {
    if len >= LARGE {
        LAST_LARGE.store(now(), Ordering::Release);
    }
}

/// After each Ruby GC sweep (see `ruby::gc_hook`): must not allocate Ruby objects or block.
pub fn after_gc() {
    if !*ENABLED {
        return;
    }
    let burst = LAST_BURST.load(Ordering::Acquire);
    let large = LAST_LARGE.load(Ordering::Acquire);
    // Once per burst and per lull: a trim that gave everything back is not repeated per GC.
    let uncovered = |time: u64, covered: &AtomicU64| {
        if time == covered.load(Ordering::Acquire) {
            0
        } else {
            time
        }
    };
    let due = due_after_gc(
        now(),
        uncovered(burst, &COVERED_BURST),
        uncovered(large, &COVERED_LARGE),
    );
    if !due {
        return;
    }
    if let Some(runtime) = runtime::existing_handle() {
        COVERED_BURST.store(burst, Ordering::Release);
        COVERED_LARGE.store(large, Ordering::Release);
        trim_on(&runtime);
    }
}

/// Asks for a trim from a tokio thread (after a burst of dials, or once the pool of message
/// buffers was emptied); elsewhere nothing happens.
pub fn on_current_runtime() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        trim_on(&runtime);
    }
}

/// In a forked child: the parent's dials never end here, and its queued trim never runs.
pub fn forked_child() {
    IN_PROGRESS.store(0, Ordering::Relaxed);
    ENDED.store(0, Ordering::Relaxed);
    QUEUED.store(false, Ordering::Relaxed);
}

/// Reads the setting now (at load), so the GC hook never initialises it.
pub fn init() {
    Lazy::force(&ENABLED);
}

/// Whether a GC at `now` is followed by a trim, given when the last burst of dials ended and the
/// last large message came (0: never).
fn due_after_gc(now: u64, burst: u64, large: u64) -> bool {
    let settling = burst != 0 && now.saturating_sub(burst) < SETTLE_MS;
    let lull = large != 0 && (LULL_MS..LULL_END_MS).contains(&now.saturating_sub(large));
    settling || lull
}

/// Trims on the runtime's blocking pool: at once, or `INTERVAL_MS` after the last trim. One is
/// queued at a time, and a request is never dropped: the queued trim runs after it was made.
fn trim_on(runtime: &tokio::runtime::Handle) {
    if !*ENABLED || QUEUED.swap(true, Ordering::AcqRel) {
        return;
    }
    let last = LAST_TRIM.load(Ordering::Acquire);
    let since = now().saturating_sub(last);
    let wait = if last == 0 {
        0
    } else {
        INTERVAL_MS.saturating_sub(since)
    };
    runtime.spawn(async move {
        // Released however the task ends (a runtime shut down drops it unrun).
        let _queued = Unqueue;
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        LAST_TRIM.store(now(), Ordering::Release);
        drop(_queued);
        let _ = tokio::task::spawn_blocking(give_back).await;
    });
}

/// Clears QUEUED when dropped: after LAST_TRIM is set, so the next request waits its turn.
struct Unqueue;

impl Drop for Unqueue {
    fn drop(&mut self) {
        QUEUED.store(false, Ordering::Release);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back() {
    // SAFETY: malloc_trim only releases free memory of glibc's own heaps.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_gc_while_a_burst_settles_or_after_large_messages_stop() {
        let t = 100_000;
        assert!(!due_after_gc(t, 0, 0), "nothing happened");
        assert!(
            due_after_gc(t, t - 1_000, 0),
            "a burst of dials ended a second ago"
        );
        assert!(!due_after_gc(t, t - SETTLE_MS, 0), "the burst is long over");
        assert!(
            !due_after_gc(t, 0, t - 100),
            "large messages are still coming"
        );
        assert!(
            due_after_gc(t, 0, t - 1_000),
            "large messages stopped a second ago"
        );
        assert!(
            !due_after_gc(t, 0, t - LULL_END_MS),
            "they stopped long ago"
        );
    }
}
