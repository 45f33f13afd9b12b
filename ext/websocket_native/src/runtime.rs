//! The process-wide tokio runtime and inbox, created lazily and created again after `fork`.
//!
//! A forked child has none of the parent's tokio threads, so it must not touch the parent's runtime
//! or queue: state is keyed by a fork generation (bumped by a `pthread_atfork` hook) and the
//! parent's copy is leaked in the child, never dropped.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use once_cell::sync::{Lazy, OnceCell};
use tokio::runtime::{Builder, Runtime};

use crate::inbox::Inbox;

/// Bumped in every forked child by a `pthread_atfork` hook, so "is this still the process that
/// made this handle?" is one atomic load instead of a `getpid` call on every send.
static GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    crate::trim::forked_child();
    crate::pool::forked_child();
}

/// Installs the fork hook; called once when the extension loads.
pub fn install_fork_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // SAFETY: the child handler only stores to atomics, which is async-signal-safe.
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child));
        }
    });
}

/// This process's fork generation (0 in the process that loaded the extension).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

pub struct Process {
    pub generation: u64,
    runtime: OnceCell<Runtime>,
    pub inbox: Arc<Inbox>,
}

impl Process {
    /// The tokio runtime, started on the first connection (timers alone never need it).
    pub fn runtime(&self) -> std::io::Result<&Runtime> {
        self.runtime.get_or_try_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("websocket-native")
                .enable_io()
                .enable_time()
                .build()
        })
    }
}

static CURRENT: Lazy<Mutex<Option<Arc<Process>>>> = Lazy::new(|| Mutex::new(None));

/// The state for this process, created on first use (so a preloading server forks before any
/// tokio thread exists).
pub fn current() -> io::Result<Arc<Process>> {
    let generation = generation();
    let mut slot = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = slot.as_ref() {
        if p.generation == generation {
            return Ok(p.clone());
        }
    }
    let fresh = Arc::new(Process {
        generation,
        runtime: OnceCell::new(),
        inbox: Arc::new(Inbox::new()?),
    });
    if let Some(parent) = slot.replace(fresh.clone()) {
        // The parent's runtime threads do not exist here; dropping it would wait for them forever.
        std::mem::forget(parent);
        // Normally done by the fork hook already; this covers a fork that bypassed Ruby's.
        crate::sockets::close_inherited();
    }
    Ok(fresh)
}

/// This process's runtime if it was started, without starting it or waiting for a lock (for a
/// Ruby GC hook, which may run while this thread holds the lock).
pub fn existing_handle() -> Option<tokio::runtime::Handle> {
    let slot = match CURRENT.try_lock() {
        Ok(slot) => slot,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    let process = slot.as_ref()?;
    if process.generation != generation() {
        return None;
    }
    process.runtime.get().map(|r| r.handle().clone())
}

/// True when `generation` is this process's (handles created before a fork are inert in the child).
pub fn is_current(generation: u64) -> bool {
    generation == self::generation()
}
