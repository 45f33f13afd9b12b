//! The read side of an open connection: messages to the inbox, the close handshake and its
//! deadlines, liveness (pong_timeout), and the words for how a connection ended.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf, ReadHalf};
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_tungstenite::tungstenite::Bytes;

use crate::decode::{Chunk, Decoder, Incoming, Violation};
use crate::dial::seconds;
use crate::inbox::Kind;
use crate::session::{Reporter, Shared, Timing};
use crate::transport::{now_ms, Transport};

pub(crate) type ReadSide = ReadHalf<Transport>;

/// Bytes taken from the socket per read. The buffer belongs to the thread, not the connection:
/// an idle connection holds none (only a frame still arriving keeps its bytes, in the decoder).
const READ_SIZE: usize = 64 * 1024;

/// A payload with at least this much still to come is read straight into its message.
const DIRECT_AT_LEAST: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
}

/// How long to wait for the server to close TCP after the close frames were exchanged.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a message costs in the inbox besides its payload (its event), counted against the
/// budget too: a flood of empty messages is bounded like any other.
const EVENT_COST: usize = 64;

/// Received bytes a connection may have waiting for Ruby before it stops reading its socket.
const INBOX_BUDGET: usize = 8 * 1024 * 1024;

pub(crate) enum Ending {
    Clean { code: u16, reason: String },
    Failed { code: u16, message: String },
}

/// The read side of an open connection and what it needs to decide how it ends.
pub(crate) struct Reader<'a> {
    pub report: &'a Reporter,
    pub timing: Timing,
    /// `host:port`, for the words of every ending.
    pub authority: &'a str,
    /// The largest message accepted (`max_length`).
    pub max_length: usize,
    pub shared: &'a Shared,
    pub write_clock: Arc<AtomicU64>,
}

impl Reader<'_> {
    pub async fn run(&self, mut source: ReadSide, mut close_sent: oneshot::Receiver<()>) -> Ending {
        let mut decoder = Decoder::new(self.max_length);
        let mut ready: VecDeque<Incoming> = VecDeque::new();
        let mut violation: Option<Violation> = None;
        let mut peer_close: Option<(u16, String)> = None;
        let mut deadline: Option<Instant> = None;
        let mut waiting_close_sent = true;
        let mut close_written = false;
        let mut close_requested = false;
        let mut last_heard = Instant::now();
        let mut proven = last_heard;
        let mut was_paused = false;
        // Made once and re-armed only when they fire or their instant moves: building them on
        // every pass inserted and cancelled a timer per message.
        let mut freed = pin!(self.shared.budget.freed.notified());
        let mut close_asked = pin!(self.shared.close_requested.notified());
        let mut pinged = pin!(self.shared.pinged.notified());
        let mut deadline_timer: Option<Pin<Box<Sleep>>> = None;
        let mut deadline_armed: Option<Instant> = None;
        let mut silence_timer: Option<Pin<Box<Sleep>>> = None;
        let mut silence_armed: Option<Instant> = None;
        loop {
            // What one read decoded goes first, whatever else is due.
            if let Some(incoming) = ready.pop_front() {
                self.take(incoming, &mut peer_close, &mut deadline);
                continue;
            }
            if ready.capacity() > 64 {
                ready = VecDeque::new(); // an idle connection keeps no room for a burst
            }
            if let Some(v) = violation.take() {
                return match peer_close {
                    // The close frames were exchanged; what came after them does not matter.
                    Some((code, reason)) => Ending::Clean { code, reason },
                    None => Ending::Failed {
                        code: v.code,
                        message: format!("the server at {} {}", self.authority, v.words),
                    },
                };
            }
            // Ruby is behind: stop reading so TCP pushes back on the server, instead of queueing
            // without bound. Liveness is not judged while we are the slow side.
            let paused = self.shared.budget.used() >= INBOX_BUDGET;
            if paused || was_paused {
                // We are (or were until this moment) the slow side: silence from the server
                // means nothing; a pass may not have come for a while, so count from now.
                last_heard = Instant::now();
            }
            was_paused = paused;
            let alive_since = last_heard.max(self.upload_progress(&mut proven));
            let silence_limit = self
                .timing
                .pong_timeout
                .filter(|_| !paused && deadline.is_none())
                .and_then(|t| self.ping_sent().map(|sent| sent.max(alive_since) + t));
            let watch_pings =
                self.timing.pong_timeout.is_some() && silence_limit.is_none() && !paused;
            rearm(&mut deadline_timer, &mut deadline_armed, deadline);
            rearm(&mut silence_timer, &mut silence_armed, silence_limit);
            let next = tokio::select! {
                r = poll_fn(|cx| fill(cx, &mut source, &mut decoder, &mut ready, &mut violation)), if !paused => r,
                () = freed.as_mut(), if paused => {
                    freed.set(self.shared.budget.freed.notified());
                    continue;
                }
                () = close_asked.as_mut(), if !close_requested => {
                    close_requested = true;
                    deadline.get_or_insert(Instant::now() + self.timing.close_timeout);
                    continue;
                }
                r = &mut close_sent, if waiting_close_sent => {
                    waiting_close_sent = false;
                    close_written = r.is_ok();
                    if close_written && peer_close.is_none() {
                        // The answer can only come once the peer has read our frame: the wait for
                        // it starts now, not when close() was called.
                        deadline = Some(Instant::now() + self.timing.close_timeout);
                    }
                    continue;
                }
                () = fired(&mut deadline_timer), if deadline.is_some() => {
                    deadline_armed = None; // fired: whatever comes next re-arms it
                    if let Some((code, reason)) = peer_close {
                        // We answered the server's close; it just did not hang up. Still clean.
                        return Ending::Clean { code, reason };
                    }
                    match self.close_progress(close_written) {
                        Some(more) => {
                            deadline = Some(Instant::now() + more);
                            continue;
                        }
                        None => return Ending::Failed {
                            code: 1006,
                            message: close_timeout_words(self.authority, self.timing, close_written),
                        },
                    }
                }
                () = pinged.as_mut(), if watch_pings => {
                    pinged.set(self.shared.pinged.notified());
                    continue;
                }
                () = fired(&mut silence_timer), if silence_limit.is_some() => {
                    silence_armed = None;
                    let timeout = self.timing.pong_timeout.unwrap_or_default();
                    let since = last_heard.max(self.upload_progress(&mut proven));
                    if self.ping_sent().is_none_or(|sent| sent.max(since) + timeout > Instant::now()) {
                        continue; // something arrived or the upload moved meanwhile: the limit moves on
                    }
                    return Ending::Failed { code: 1006, message: self.silence_words() };
                }
            };
            if !matches!(next, Ok(got) if got > 0) {
                return match peer_close {
                    // The close frames were exchanged; a hang-up or reset after that loses nothing.
                    Some((code, reason)) => Ending::Clean { code, reason },
                    None => lost(next.err(), self.authority, decoder.in_the_middle()),
                };
            }
            last_heard = Instant::now();
            if violation.is_some()
                && peer_close.is_none()
                && !ready.iter().any(|m| matches!(m, Incoming::Close(..)))
            {
                // This read ends in a protocol failure: mark it before Ruby sees the messages
                // decoded ahead of it, so a close their callbacks ask for cannot go out before the
                // failure's own code (the writer checks this flag).
                self.shared.failing.store(true, Ordering::Release);
            }
            if self.timing.pong_timeout.is_some() {
                // Any bytes prove the link carried something after the outstanding ping.
                self.shared.ping_outstanding.store(0, Ordering::Release);
            }
        }
    }

    /// Hands one decoded message on: to Ruby, or as an answer for the writer to send.
    fn take(
        &self,
        incoming: Incoming,
        peer_close: &mut Option<(u16, String)>,
        deadline: &mut Option<Instant>,
    ) {
        if peer_close.is_some() {
            return; // nothing counts after the server's close frame
        }
        match incoming {
            Incoming::Text(t) => {
                let bytes = t.len() + EVENT_COST;
                self.report
                    .message(Kind::Text(t), bytes, &self.shared.budget);
            }
            Incoming::Binary(b) => {
                let bytes = b.len() + EVENT_COST;
                self.report
                    .message(Kind::Binary(b), bytes, &self.shared.budget);
            }
            Incoming::Ping(p) => self.shared.answer_ping(p),
            Incoming::Pong(p) => self.report.push(Kind::Pong(p)),
            Incoming::Close(code, reason) => {
                self.shared.answer_close(code);
                *peer_close = Some((code, reason));
                // Both close frames are (or are about to be) exchanged: nothing more can
                // arrive. Give the server a moment to hang up first, as RFC 6455 prefers.
                let grace = Instant::now() + self.timing.close_timeout.min(CLOSE_GRACE);
                *deadline = Some(deadline.map_or(grace, |d| d.min(grace)));
            }
        }
    }

    /// While the close frame still waits behind queued data, a peer that keeps reading gets
    /// more time: the deadline counts from the last write that made progress.
    fn close_progress(&self, close_written: bool) -> Option<Duration> {
        if close_written {
            return None;
        }
        let idle = Duration::from_millis(
            now_ms().saturating_sub(self.write_clock.load(Ordering::Acquire)),
        );
        self.timing
            .close_timeout
            .checked_sub(idle)
            .filter(|d| !d.is_zero())
    }

    /// While messages are queued, a write that the peer's socket accepts proves it alive: our
    /// pings wait behind that data, so its pongs cannot come sooner. (A lone ping being written
    /// proves nothing: the kernel takes it for a dead peer too.) `proven` keeps the latest such
    /// moment once the queue is empty again.
    fn upload_progress(&self, proven: &mut Instant) -> Instant {
        if self.shared.buffered.load(Ordering::Acquire) > 0 {
            *proven = (*proven).max(self.last_write_instant());
        }
        *proven
    }

    /// The last write that made progress, on tokio's clock.
    fn last_write_instant(&self) -> Instant {
        instant_of(self.write_clock.load(Ordering::Acquire))
    }

    /// When the oldest ping still unanswered by any frame was written.
    fn ping_sent(&self) -> Option<Instant> {
        match self.shared.ping_outstanding.load(Ordering::Acquire) {
            0 => None,
            at => Some(instant_of(at - 1)),
        }
    }

    fn silence_words(&self) -> String {
        let timeout = self.timing.pong_timeout.unwrap_or_default();
        format!(
            "no reply to ping for {} from {}: nothing came back, not even a pong (pong_timeout); the connection is presumed dead and was dropped",
            seconds(timeout),
            self.authority
        )
    }
}

/// Points a kept timer at `want` when that changed since it was last armed. The timer is made
/// the first time it is needed: most connections never arm one, and each is 112 bytes.
fn rearm(timer: &mut Option<Pin<Box<Sleep>>>, armed: &mut Option<Instant>, want: Option<Instant>) {
    if let Some(at) = want {
        if *armed != want {
            match timer {
                Some(t) => t.as_mut().reset(at),
                None => *timer = Some(Box::pin(sleep_until(at))),
            }
            *armed = want;
        }
    }
}

/// Waits for an armed timer (the caller polls only while one is armed).
async fn fired(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

/// A `now_ms` reading on tokio's clock.
fn instant_of(ms: u64) -> Instant {
    let ago = now_ms().saturating_sub(ms);
    Instant::now()
        .checked_sub(Duration::from_millis(ago))
        .unwrap_or_else(Instant::now)
}

fn close_timeout_words(authority: &str, timing: Timing, written: bool) -> String {
    let limit = seconds(timing.close_timeout);
    if written {
        format!("{authority} did not answer the close handshake within {limit} (close_timeout); the connection was dropped")
    } else {
        format!("the close frame could not be sent to {authority}: the server read nothing for {limit} (close_timeout) with data still queued; the connection was dropped")
    }
}

/// Reads what the socket has into the thread's buffer and decodes it: messages to `ready`, a
/// violation (after the messages before it) to `violation`. Ready with the bytes read, 0 at EOF.
fn fill(
    cx: &mut Context<'_>,
    source: &mut ReadSide,
    decoder: &mut Decoder,
    ready: &mut VecDeque<Incoming>,
    violation: &mut Option<Violation>,
) -> Poll<io::Result<usize>> {
    if let Some((data, want)) = decoder.direct(DIRECT_AT_LEAST) {
        // A large payload goes straight into its message, without a copy through the scratch.
        let spare = &mut data.spare_capacity_mut()[..want];
        let start = spare.as_ptr().cast::<u8>();
        let mut buf = ReadBuf::uninit(spare);
        ready!(Pin::new(&mut *source).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        if buf.filled().as_ptr() != start {
            return Poll::Ready(Err(io::Error::other("the stream swapped the read buffer")));
        }
        // SAFETY: `poll_read` initialized the first `n` bytes of the spare capacity (the filled
        // part starts where the spare capacity does: checked above).
        unsafe { data.set_len(data.len() + n) };
        if n > 0 {
            if let Err(v) = decoder.took(n, &mut |m| ready.push_back(m)) {
                *violation = Some(v);
            }
        }
        return Poll::Ready(Ok(n));
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        ready!(Pin::new(&mut *source).poll_read(cx, &mut buf))?;
        // At most one allocation per read: each whole message in it is a slice of one copy.
        let got = buf.filled();
        let before = ready.len();
        let mut chunk = Chunk::new(got);
        if let Err(v) = decoder.feed(&mut chunk, &mut |m| ready.push_back(m)) {
            *violation = Some(v);
        }
        if let Some(shared) = chunk.shared() {
            own_if_sparse(shared, ready, before);
        }
        Poll::Ready(Ok(got.len()))
    })
}

/// When the messages sliced from a read cover less than half of it (the rest was headers or
/// the start of a large frame), gives them copies of their own: a message must not keep the
/// whole read alive while the inbox budget counts only its payload.
fn own_if_sparse(read: &Bytes, messages: &mut VecDeque<Incoming>, from: usize) {
    let sliced = messages
        .range(from..)
        .filter_map(|m| slice_of(read, m))
        .map(Bytes::len);
    if sliced.sum::<usize>() * 2 >= read.len() {
        return;
    }
    for m in messages.range_mut(from..) {
        if let Incoming::Text(b) | Incoming::Binary(b) = m {
            if read.as_ptr_range().contains(&b.as_ptr()) {
                *b = Bytes::copy_from_slice(b);
            }
        }
    }
}

/// The message's payload when it is a slice of this read, not a buffer of its own.
fn slice_of<'m>(read: &Bytes, m: &'m Incoming) -> Option<&'m Bytes> {
    match m {
        Incoming::Text(b) | Incoming::Binary(b) if read.as_ptr_range().contains(&b.as_ptr()) => {
            Some(b)
        }
        _ => None,
    }
}

/// The stream ended (`error` None) or failed without a close handshake: the connection is gone
/// (1006), in words that say what happened.
fn lost(error: Option<io::Error>, authority: &str, in_frame: bool) -> Ending {
    let message = match error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionReset => {
            format!("the connection to {authority} was reset (by the server or the network)")
        }
        Some(e) if e.kind() != io::ErrorKind::UnexpectedEof => {
            format!("reading from {authority} failed: {e}")
        }
        _ if in_frame => {
            format!("the server at {authority} closed the connection in the middle of a frame")
        }
        _ => format!(
            "the server at {authority} closed the connection without a WebSocket close frame"
        ),
    };
    Ending::Failed {
        code: 1006,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(read: &Bytes, m: &Incoming) -> bool {
        slice_of(read, m).is_some()
    }

    #[test]
    fn copies_messages_that_would_pin_a_mostly_unrelated_read() {
        let read = Bytes::from(vec![7u8; 100]);
        let mut sparse = VecDeque::from([
            Incoming::Ping(vec![1]),
            Incoming::Binary(read.slice(2..5)),
            Incoming::Binary(Bytes::from(vec![1u8; 10])),
        ]);
        own_if_sparse(&read, &mut sparse, 1);
        assert!(!shares(&read, &sparse[1]));
        assert_eq!(sparse[1], Incoming::Binary(Bytes::from(vec![7u8; 3])));

        let mut dense = VecDeque::from([
            Incoming::Text(read.slice(2..40)),
            Incoming::Binary(read.slice(42..90)),
        ]);
        own_if_sparse(&read, &mut dense, 0);
        assert!(shares(&read, &dense[0]) && shares(&read, &dense[1]));
    }
}
