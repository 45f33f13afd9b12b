//! Buffers of large messages are used again while large messages flow.
//!
//! A message's buffer is filled on a tokio thread and freed on the Ruby thread once its String
//! exists, a whole drained batch at a time. glibc coalesces those frees into the top of its heap
//! and, past its 128 KiB trim threshold, gives the pages back to the kernel; the next messages
//! then fault fresh zeroed pages in. Pipelined 64 KiB messages took about 5 page faults each and
//! 25% more CPU per message than with the buffers kept (doc/DESIGN.md has the runs).
//!
//! So when a message of `LARGE` to `MAX_ONE` bytes is dropped, its buffer goes to a process-wide
//! pool (at most `MAX_BYTES` in all), and the next large message whose size fits takes it. Once
//! nothing took or gave a buffer for `IDLE_MS`, the pool is emptied and a trim is asked for: a
//! sweeper task exists only while the pool holds something, so an idle process has no timer for
//! it. The pool is only ever `try_lock`ed: when it is busy a buffer is allocated or freed as
//! usual, and a child forked while a parent's thread held the lock simply does without it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio_tungstenite::tungstenite::Bytes;

use crate::runtime;
use crate::transport::now_ms;

/// The smallest message whose buffer is kept (smaller ones are written into the read's copy or
/// cheap to allocate).
pub const LARGE: usize = 16 * 1024;
/// The largest buffer kept (the decoder reserves at most 1 MiB ahead).
const MAX_ONE: usize = 1 << 20;
/// What the pool holds at most: a pipelined window of 64 KiB messages fits.
const MAX_BYTES: usize = 4 << 20;
/// How long the pool may go unused before it is emptied.
const IDLE_MS: u64 = 1_000;

/// Buffers kept, and the sum of their capacities.
struct Kept {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl Kept {
    const fn new() -> Self {
        Kept {
            buffers: Vec::new(),
            bytes: 0,
        }
    }

    /// The newest buffer that holds `len` bytes without being over a quarter larger (a message
    /// must not pin much more than the inbox budget counts for it).
    fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        let fits = |b: &Vec<u8>| (len..=len.saturating_add(len / 4)).contains(&b.capacity());
        let at = self.buffers.iter().rposition(fits)?;
        let buffer = self.buffers.swap_remove(at);
        self.bytes -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps `buffer` if it is of a size worth keeping and there is room; otherwise hands it
    /// back (to be freed once the lock is released).
    fn give(&mut self, mut buffer: Vec<u8>) -> Result<(), Vec<u8>> {
        let size = buffer.capacity();
        if !(LARGE..=MAX_ONE).contains(&size) || self.bytes + size > MAX_BYTES {
            return Err(buffer);
        }
        buffer.clear();
        self.bytes += size;
        self.buffers.push(buffer);
        Ok(())
    }

    fn empty(&mut self) -> Vec<Vec<u8>> {
        self.bytes = 0;
        std::mem::take(&mut self.buffers)
    }
}

static KEPT: Mutex<Kept> = Mutex::new(Kept::new());
/// When a buffer was last taken or given, on the `now_ms` clock.
static LAST_USE: AtomicU64 = AtomicU64::new(0);
/// A sweeper task is running (or being started) in this process.
static SWEEPING: AtomicBool = AtomicBool::new(false);
/// This process is a forked child that has not emptied what its parent kept.
static INHERITED: AtomicBool = AtomicBool::new(false);

/// The first room for a data message, `len` bytes: a kept buffer when one fits.
pub fn take(len: usize) -> Vec<u8> {
    if len < LARGE {
        return Vec::new();
    }
    LAST_USE.store(now_ms(), Ordering::Relaxed);
    let Ok(mut kept) = KEPT.try_lock() else {
        return Vec::new();
    };
    if INHERITED.swap(false, Ordering::AcqRel) {
        // The parent's buffers, kept for the parent's messages: given back, not used.
        let stale = kept.empty();
        drop(kept);
        drop(stale);
        return Vec::new();
    }
    kept.take(len).unwrap_or_default()
}

/// A finished message's bytes; a large message's buffer returns to the pool when it is dropped.
pub fn bytes(buffer: Vec<u8>) -> Bytes {
    if (LARGE..=MAX_ONE).contains(&buffer.capacity()) {
        Bytes::from_owner(Returned(buffer))
    } else {
        buffer.into()
    }
}

/// A message's buffer that goes back to the pool when the message is dropped.
struct Returned(Vec<u8>);

impl AsRef<[u8]> for Returned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Returned {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

fn give(buffer: Vec<u8>) {
    LAST_USE.store(now_ms(), Ordering::Relaxed);
    let Ok(mut kept) = KEPT.try_lock() else {
        return; // busy: this one is freed as usual
    };
    let refused = kept.give(buffer).err();
    drop(kept);
    drop(refused); // freed outside the lock
    if !SWEEPING.swap(true, Ordering::AcqRel) {
        start_sweeper();
    }
}

fn start_sweeper() {
    // On a tokio thread its runtime; on the Ruby thread the process's (whose lock no other thread
    // holds while Ruby drops messages: only calls from Ruby take it).
    let runtime = tokio::runtime::Handle::try_current()
        .ok()
        .or_else(runtime::existing_handle);
    match runtime {
        // The guard goes with the task: one dropped unrun (its runtime shut down) clears the flag.
        Some(runtime) => drop(runtime.spawn(sweep(Sweeping))),
        // No runtime (a forked child before its first connection) or its lock busy this instant:
        // the next buffer given tries again. What is kept meanwhile stays bounded.
        None => SWEEPING.store(false, Ordering::Release),
    }
}

/// Empties the pool once it went unused for `IDLE_MS`, then asks for a trim.
async fn sweep(running: Sweeping) {
    let mut wait = IDLE_MS;
    loop {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let unused = now_ms().saturating_sub(LAST_USE.load(Ordering::Relaxed));
        if unused < IDLE_MS {
            wait = IDLE_MS - unused; // until IDLE_MS after the last use
            continue;
        }
        let Ok(mut kept) = KEPT.try_lock() else {
            wait = IDLE_MS;
            continue;
        };
        let freed = kept.empty();
        // The flag cleared under the lock: a buffer given after this starts a sweeper of its own.
        drop(running);
        drop(kept);
        if !freed.is_empty() {
            drop(freed);
            crate::trim::on_current_runtime();
        }
        return;
    }
}

/// Clears `SWEEPING` when its sweeper ends, whether it emptied the pool or was dropped unrun.
struct Sweeping;

impl Drop for Sweeping {
    fn drop(&mut self) {
        SWEEPING.store(false, Ordering::Release);
    }
}

/// In a forked child: the parent's sweeper does not run here, and what the parent kept is given
/// back at the first large message (a child forked while a parent's thread held the lock never
/// gets it: it keeps at most `MAX_BYTES` it cannot use).
pub fn forked_child() {
    SWEEPING.store(false, Ordering::Relaxed);
    INHERITED.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_large_buffers_up_to_its_limit() {
        let mut kept = Kept::new();
        assert!(kept.give(Vec::with_capacity(LARGE - 1)).is_err(), "small");
        assert!(kept.give(Vec::with_capacity(MAX_ONE + 1)).is_err(), "huge");
        let mut given = 0;
        while kept.give(vec![7u8; MAX_ONE / 2]).is_ok() {
            given += 1;
        }
        assert_eq!(given, MAX_BYTES / (MAX_ONE / 2));
        assert_eq!(kept.bytes, MAX_BYTES);
        let buffer = kept.take(MAX_ONE / 2).expect("a fit");
        assert!(buffer.is_empty(), "cleared when kept");
        assert_eq!(kept.bytes, MAX_BYTES - buffer.capacity());
        assert_eq!(kept.empty().len(), given - 1);
        assert_eq!(kept.bytes, 0);
    }

    #[test]
    fn gives_a_buffer_only_to_a_message_it_fits() {
        let mut kept = Kept::new();
        assert!(kept.give(Vec::with_capacity(64 * 1024)).is_ok());
        assert!(kept.take(64 * 1024 + 1).is_none(), "too small");
        assert!(
            kept.take(52_000).is_none(),
            "over a quarter larger than the message"
        );
        assert!(kept.take(53_000).is_some());
        assert!(kept.take(53_000).is_none(), "taken");
    }

    #[test]
    fn a_dropped_message_returns_its_buffer() {
        // The process-wide pool is shared with the decoder's tests, and a busy pool frees the
        // buffer instead: look for this one by its address, and try again when it was busy.
        let returned = (0..100).any(|_| {
            let mut buffer = Vec::with_capacity(3 * LARGE + 17);
            buffer.extend_from_slice(b"payload");
            let at = buffer.as_ptr();
            let message = bytes(buffer);
            assert_eq!(&message[..], b"payload");
            drop(message);
            let kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
            kept.buffers.iter().any(|b| b.as_ptr() == at)
        });
        assert!(returned);
    }

    #[test]
    fn empties_once_unused_and_stops_sweeping() {
        let mut buffer = Vec::with_capacity(2 * LARGE);
        let at = buffer.as_ptr();
        buffer.push(1);
        let kept_here = KEPT.lock().unwrap_or_else(|p| p.into_inner()).give(buffer);
        assert!(kept_here.is_ok());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let swept = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), sweep(Sweeping)).await
        });
        assert!(swept.is_ok(), "the sweeper ends once the pool went unused");
        let kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
        assert!(kept.buffers.iter().all(|b| b.as_ptr() != at), "emptied");
    }
}
