//! The process-wide tokio runtime and inbox, created lazily and created again after `fork`.
//!
//! A forked child has none of the parent's tokio threads, so it must not touch the parent's runtime
//! or queue: state is keyed by pid and the parent's copy is leaked in the child, never dropped.

use std::io;
use std::sync::{Arc, Mutex};

use once_cell::sync::{Lazy, OnceCell};
use tokio::runtime::{Builder, Runtime};

use crate::inbox::Inbox;

pub struct Process {
    pub pid: u32,
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
    let pid = std::process::id();
    let mut slot = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = slot.as_ref() {
        if p.pid == pid {
            return Ok(p.clone());
        }
    }
    let fresh = Arc::new(Process {
        pid,
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

/// True when `pid` is this process (handles created before a fork are inert in the child).
pub fn is_current(pid: u32) -> bool {
    pid == std::process::id()
}
