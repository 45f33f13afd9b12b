//! The queue of events from connection tasks to the Ruby reactor thread.
//!
//! Tokio tasks push plain Rust data; the reactor drains it in batches while it holds no GVL.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Which protocol step an error belongs to; the Ruby side maps it to an exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Dns,
    Tcp,
    Proxy,
    Tls,
    Http,
    WebSocket,
    Connection,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Dns => "dns",
            Step::Tcp => "tcp",
            Step::Proxy => "proxy",
            Step::Tls => "tls",
            Step::Http => "http",
            Step::WebSocket => "websocket",
            Step::Connection => "connection",
        }
    }

    /// The words an operator reads for this step.
    pub fn describe(self) -> &'static str {
        match self {
            Step::Dns => "the DNS lookup",
            Step::Tcp => "the TCP connect",
            Step::Proxy => "the proxy CONNECT",
            Step::Tls => "the TLS handshake",
            Step::Http => "the HTTP upgrade",
            Step::WebSocket => "the WebSocket session",
            Step::Connection => "the open connection",
        }
    }
}

/// Something that happened on one connection.
#[derive(Debug)]
pub enum Kind {
    Open {
        protocol: String,
        status: u16,
        headers: Vec<(String, String)>,
    },
    Text(String),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    Error {
        step: Step,
        message: String,
    },
    Close {
        code: u16,
        reason: String,
        clean: bool,
    },
}

#[derive(Debug)]
pub struct Event {
    pub conn: u64,
    pub kind: Kind,
}

struct State {
    queue: VecDeque<Event>,
    woken: bool,
}

/// A multi-producer queue with one consumer that can wait for it with a deadline.
pub struct Inbox {
    state: Mutex<State>,
    ready: Condvar,
}

/// Why a wait ended.
pub enum WaitEnd {
    Ready,
    Woken,
    TimedOut,
    Interrupted,
}

impl Inbox {
    pub fn new() -> Self {
        Inbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                woken: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a pusher panicked mid-push; the queue is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, conn: u64, kind: Kind) {
        let mut st = self.lock();
        st.queue.push_back(Event { conn, kind });
        drop(st);
        self.ready.notify_one();
    }

    /// Makes a waiting `wait` return early (used by `stop`, timers and scheduled blocks).
    pub fn wake(&self) {
        self.lock().woken = true;
        self.ready.notify_all();
    }

    /// Wakes the waiter because Ruby wants to interrupt the thread (Ctrl-C, Thread#kill).
    pub fn interrupt(&self) {
        let _guard = self.lock();
        self.ready.notify_all();
    }

    /// Blocks until an event, a wake, an interrupt (`stop()` returns true) or the timeout.
    pub fn wait(&self, timeout: Option<Duration>, stop: &dyn Fn() -> bool) -> WaitEnd {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.woken {
                st.woken = false;
                return WaitEnd::Woken;
            }
            if !st.queue.is_empty() {
                return WaitEnd::Ready;
            }
            if stop() {
                return WaitEnd::Interrupted;
            }
            match deadline {
                None => st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return WaitEnd::TimedOut;
                    }
                    st = self
                        .ready
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// Takes up to `max` events without waiting.
    pub fn take(&self, max: usize) -> Vec<Event> {
        let mut st = self.lock();
        let n = max.min(st.queue.len());
        st.queue.drain(..n).collect()
    }
}
