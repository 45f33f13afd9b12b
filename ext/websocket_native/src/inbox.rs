//! The queue of events from connection tasks to the Ruby reactor thread.
//!
//! Tokio tasks push plain Rust data; the reactor thread drains it in batches.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Bytes;

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
    // Payloads are slices of one read (or one allocation for a large or fragmented message)
    // until Ruby copies them into a String. Text is valid UTF-8: the decoder checked it.
    Text(Bytes),
    Binary(Bytes),
    Pong(Vec<u8>),
    /// `buffered_amount` fell to half the send limit after a send was refused for room.
    Drain,
    Error {
        step: Step,
        message: String,
    },
    Close {
        code: u16,
        reason: String,
        clean: bool,
    },
    /// The server broke the protocol; Ruby answers with a barrier once the callbacks for every
    /// earlier event ran (see `session::REPLY_GRACE`).
    Failing,
    /// A finished dial step, for the connection's logger (only sent when it has one).
    Trace {
        step: Step,
        line: String,
    },
}

/// Bytes of one connection's messages that sit in the inbox. Over the limit, the connection stops
/// reading from its socket (TCP pushes back on the server) until Ruby drains.
#[derive(Default)]
pub struct Budget {
    used: AtomicUsize,
    /// Signalled whenever Ruby takes some of this connection's bytes.
    pub freed: Notify,
}

impl Budget {
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
    }

    pub fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.freed.notify_one();
    }
}

pub struct Event {
    pub conn: u64,
    pub kind: Kind,
    credit: Option<(Arc<Budget>, usize)>,
}

struct State {
    queue: VecDeque<Event>,
}

/// A multi-producer queue with one consumer. Pushing into an empty queue (and `wake`) writes a
/// byte to a socket pair whose other end Ruby waits on with `IO#wait_readable`: that wait is
/// Ruby's own, so signals and trap handlers, Thread#kill and Timeout all work while it blocks.
pub struct Inbox {
    state: Mutex<State>,
    reader: UnixStream,
    writer: UnixStream,
}

impl Inbox {
    pub fn new() -> io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Inbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
            }),
            reader,
            writer,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a pusher panicked mid-push; the queue is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor that becomes readable when events arrive or `wake` is called.
    pub fn fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    fn signal(&self) {
        // WouldBlock means a wake-up is already pending, which is all we need.
        let _ = (&self.writer).write(&[1]);
    }

    pub fn push(&self, conn: u64, kind: Kind) {
        self.push_event(Event {
            conn,
            kind,
            credit: None,
        });
    }

    /// Pushes a message whose `bytes` count against the connection's budget until taken.
    pub fn push_counted(&self, conn: u64, kind: Kind, budget: &Arc<Budget>, bytes: usize) {
        budget.charge(bytes);
        self.push_event(Event {
            conn,
            kind,
            credit: Some((budget.clone(), bytes)),
        });
    }

    fn push_event(&self, event: Event) {
        let mut st = self.lock();
        let was_empty = st.queue.is_empty();
        st.queue.push_back(event);
        drop(st);
        if was_empty {
            self.signal();
        }
    }

    /// Puts taken events back at the front, in their order, for the next `take` (a batch that
    /// could not be handed to Ruby). Their budget was already released; they stay uncounted.
    pub fn give_back(&self, events: Vec<Event>) {
        let mut st = self.lock();
        for event in events.into_iter().rev() {
            st.queue.push_front(event);
        }
        drop(st);
        self.signal();
    }

    /// Makes a waiting reactor return (stop, a new timer, a scheduled block). Safe in a trap.
    pub fn wake(&self) {
        self.signal();
    }

    /// Clears pending wake-ups, then takes up to `max` events holding at most `max_bytes` of
    /// payload (always at least one event), so Ruby's batch stays small while the budget is
    /// released. A push after this writes a new byte, so a wait that follows cannot miss it.
    pub fn take(&self, max: usize, max_bytes: usize) -> Vec<Event> {
        let mut sink = [0u8; 64];
        while matches!((&self.reader).read(&mut sink), Ok(n) if n > 0) {}
        let mut st = self.lock();
        let mut n = 0;
        let mut bytes = 0;
        for event in st.queue.iter().take(max) {
            if n > 0 && bytes >= max_bytes {
                break;
            }
            bytes += event.credit.as_ref().map_or(0, |(_, b)| *b);
            n += 1;
        }
        let mut taken: Vec<Event> = st.queue.drain(..n).collect();
        let more = !st.queue.is_empty();
        drop(st);
        if more {
            // Events are left for the next batch: keep the descriptor readable.
            self.signal();
        }
        for event in &mut taken {
            if let Some((budget, bytes)) = event.credit.take() {
                budget.release(bytes);
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closes(events: &[Event]) -> Vec<(u64, u16)> {
        events
            .iter()
            .map(|e| match &e.kind {
                Kind::Close { code, .. } => (e.conn, *code),
                other => panic!("unexpected event {other:?}"),
            })
            .collect()
    }

    #[test]
    fn gives_back_a_batch_in_order_before_later_events() -> io::Result<()> {
        let inbox = Inbox::new()?;
        let close = |code| Kind::Close {
            code,
            reason: String::new(),
            clean: true,
        };
        for (conn, code) in [(1, 1000), (2, 1001), (3, 1002)] {
            inbox.push(conn, close(code));
        }
        let batch = inbox.take(2, usize::MAX);
        inbox.push(4, close(1003));
        inbox.give_back(batch);
        let all = inbox.take(10, usize::MAX);
        assert_eq!(
            closes(&all),
            vec![(1, 1000), (2, 1001), (3, 1002), (4, 1003)]
        );
        Ok(())
    }
}
