//! DNS lookups (getaddrinfo on tokio's blocking pool), at most `MAX_LOOKUPS` at once.
//!
//! A lookup against a dead resolver holds its thread for the resolver's whole timeout, even after
//! the dial gave up; without a cap, a site that retries would grow threads without bound.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

/// Lookups running at once per process; more wait for a slot within connect_timeout.
pub const MAX_LOOKUPS: usize = 16;

/// The slots of one process: a forked child must not inherit slots held by the parent's threads.
struct Slots {
    pid: u32,
    free: Arc<Semaphore>,
}

/// Leaked on purpose when replaced after a fork (one small value per fork); lock-free, because
/// a lock held by a tokio thread at the fork would stay held in the child.
static SLOTS: AtomicPtr<Slots> = AtomicPtr::new(ptr::null_mut());

fn slots() -> Arc<Semaphore> {
    let pid = std::process::id();
    loop {
        let current = SLOTS.load(Ordering::Acquire);
        // SAFETY: a non-null pointer comes from Box::into_raw below and is never freed.
        if let Some(slots) = unsafe { current.as_ref() } {
            if slots.pid == pid {
                return slots.free.clone();
            }
        }
        let fresh = Box::into_raw(Box::new(Slots {
            pid,
            free: Arc::new(Semaphore::new(MAX_LOOKUPS)),
        }));
        if SLOTS
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: just published; never freed.
            return unsafe { &*fresh }.free.clone();
        }
        // SAFETY: `fresh` lost the race and was never shared.
        drop(unsafe { Box::from_raw(fresh) });
    }
}

/// Resolves `host` once a slot is free; the slot stays taken until getaddrinfo returns, even
/// when the caller stopped waiting.
pub async fn lookup_host(host: &str, port: u16) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    let slot = slots()
        .acquire_owned()
        .await
        .map_err(|_| io::Error::other("the DNS lookup slots were closed"))?;
    let host = host.to_owned();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        (host.as_str(), port).to_socket_addrs()
    })
    .await
    .map_err(|e| io::Error::other(format!("the DNS lookup task failed: {e}")))?
}

/// Words for a lookup that timed out while every slot was taken, if they were.
pub fn saturation() -> Option<String> {
    (slots().available_permits() == 0).then(|| {
        format!(
            "{MAX_LOOKUPS} DNS lookups already waiting for an answer, the most this process runs at once, so the resolver is slow or dead"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_through_a_slot_and_gives_it_back() {
        let addrs: Vec<SocketAddr> = lookup_host("127.0.0.1", 80)
            .await
            .expect("a literal resolves")
            .collect();
        assert_eq!(addrs, vec![SocketAddr::from(([127, 0, 0, 1], 80))]);
        assert_eq!(slots().available_permits(), MAX_LOOKUPS);
        assert!(saturation().is_none());
    }
}
