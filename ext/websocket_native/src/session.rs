//! One task per connection: dial, then an always-polled reader and a writer fed by a channel.

use std::collections::VecDeque;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{oneshot, Notify};
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::dial::{self, seconds, Target};
use crate::inbox::{Budget, Inbox, Kind, Step};
use crate::transport::{now_ms, Transport};
use crate::waves;

/// How long to wait for the server to close TCP after the close frames were exchanged.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Under sustained sending, flush (and count as written) at least this often.
const FLUSH_EVERY: usize = 64 * 1024;

/// Received bytes a connection may have waiting for Ruby before it stops reading its socket.
const INBOX_BUDGET: usize = 8 * 1024 * 1024;

type Sink = SplitSink<WebSocketStream<Transport>, Message>;
type Source = SplitStream<WebSocketStream<Transport>>;

/// What Ruby asks a connection to do; sent in order through one channel.
#[derive(Debug)]
pub enum Command {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16, String),
}

impl Command {
    /// Bytes this command adds to `buffered_amount`.
    pub fn weight(&self) -> usize {
        match self {
            Command::Text(s) => s.len(),
            Command::Binary(b) => b.len(),
            Command::Ping(_) | Command::Close(..) => 0,
        }
    }

    pub fn is_message(&self) -> bool {
        matches!(self, Command::Text(_) | Command::Binary(_))
    }
}

/// Counters shared by the Ruby handle and the connection task.
pub struct Shared {
    /// The most bytes `send` may have queued; a message is always taken when nothing is queued.
    pub send_limit: usize,
    /// Set when a send was refused for room: the writer then reports `Drain` at half the limit.
    refused: AtomicBool,
    /// Bytes accepted by `send` and not yet written to the socket.
    pub buffered: AtomicUsize,
    /// Messages accepted by `send` and not yet written to the socket.
    pub pending: AtomicUsize,
    /// Set once the task has ended; later sends are refused.
    pub finished: AtomicBool,
    /// Signalled by `close`: the close deadline runs from the request, not from when the frame
    /// could be written (a peer that stopped reading would otherwise hold us forever).
    pub close_requested: Notify,
    /// Received bytes waiting in the inbox for Ruby.
    pub budget: Arc<Budget>,
    /// When (`now_ms`, plus one so 0 means none) the oldest ping not followed by any frame from
    /// the server was written.
    pub ping_outstanding: AtomicU64,
    /// Signalled when `ping_outstanding` is set, so the reader starts the pong deadline at once.
    pub pinged: Notify,
}

impl Shared {
    pub fn new(send_limit: usize) -> Self {
        Shared {
            send_limit,
            refused: AtomicBool::new(false),
            buffered: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            close_requested: Notify::new(),
            budget: Arc::default(),
            ping_outstanding: AtomicU64::new(0),
            pinged: Notify::new(),
        }
    }

    /// Counts a message of `bytes` as queued when it fits under the send limit (or nothing is
    /// queued); otherwise remembers the refusal so the writer reports `Drain` later. Sends come
    /// from Ruby under the GVL, so only the writer's `written` runs concurrently with this.
    pub fn admit(&self, bytes: usize) -> bool {
        let fits = |queued: usize| queued == 0 || queued.saturating_add(bytes) <= self.send_limit;
        if !fits(self.buffered.load(Ordering::SeqCst)) {
            self.refused.store(true, Ordering::SeqCst);
            // Looked at again after the flag is up: either this load sees the writer's progress,
            // or the writer sees the flag (both SeqCst), so a refusal is always followed by Drain.
            if !fits(self.buffered.load(Ordering::SeqCst)) {
                return false;
            }
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        self.buffered.fetch_add(bytes, Ordering::SeqCst);
        true
    }

    /// Messages left the queue: written to the socket, or never queued after all. True when a
    /// refused sender should now hear there is room again.
    pub fn written(&self, messages: usize, bytes: usize) -> bool {
        self.pending.fetch_sub(messages, Ordering::AcqRel);
        let left = self.buffered.fetch_sub(bytes, Ordering::SeqCst) - bytes;
        left <= self.send_limit / 2
            && self.refused.load(Ordering::SeqCst)
            && self.refused.swap(false, Ordering::SeqCst)
    }
}

/// Timing options of an open connection.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub close_timeout: Duration,
    pub ping_interval: Option<Duration>,
    /// Drop the link when nothing arrives this long after a ping was written.
    pub pong_timeout: Option<Duration>,
}

#[derive(Clone)]
struct Reporter {
    id: u64,
    inbox: Arc<Inbox>,
}

impl Reporter {
    fn push(&self, kind: Kind) {
        self.inbox.push(self.id, kind);
    }

    fn message(&self, kind: Kind, bytes: usize, budget: &Arc<Budget>) {
        self.inbox.push_counted(self.id, kind, budget, bytes);
    }

    fn error(&self, step: Step, message: &str) {
        self.push(Kind::Error {
            step,
            message: message.to_string(),
        });
    }

    fn close(&self, code: u16, reason: String, clean: bool) {
        self.push(Kind::Close {
            code,
            reason,
            clean,
        });
    }
}

/// Runs a connection from dial to the final close event. Always ends with exactly one Close event.
pub async fn run(
    id: u64,
    target: Target,
    timing: Timing,
    inbox: Arc<Inbox>,
    mut commands: UnboundedReceiver<Command>,
    shared: Arc<Shared>,
) {
    let report = Reporter { id, inbox };
    let mut early = VecDeque::new();
    let opened = {
        // Boxed so the dial's state (kilobytes) is freed once open, not kept inside this
        // future for the connection's whole life.
        let dial = Box::pin(async {
            let _turn = waves::turn(&target.authority(), target.open_timeout).await;
            dial::open(&target).await
        });
        tokio::select! {
            r = dial => Some(r),
            () = watch_for_close(&mut commands, &mut early) => None,
        }
    };
    let opened = match opened {
        None => {
            let reason = format!(
                "closed by the client before the connection to {} was open{}",
                target.authority(),
                undelivered(&shared)
            );
            finish(&shared);
            report.close(1006, reason, false);
            return;
        }
        Some(Err(failure)) => {
            report.error(failure.step, &failure.message);
            let reason = format!("{}{}", failure.message, undelivered(&shared));
            finish(&shared);
            report.close(1006, reason, false);
            return;
        }
        Some(Ok(o)) => o,
    };
    report.push(Kind::Open {
        protocol: opened.protocol,
        status: opened.status,
        headers: opened.headers,
    });
    let write_clock = opened.ws.get_ref().write_clock();
    let (sink, source) = opened.ws.split();
    let (close_tx, close_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_loop(
        sink,
        Queue {
            early,
            commands,
            stop: stop_rx,
        },
        shared.clone(),
        timing,
        close_tx,
        report.clone(),
    ));
    let ending = Reader {
        report: &report,
        timing,
        target: &target,
        shared: &shared,
        write_clock,
    }
    .run(source, close_rx)
    .await;
    // Anything the writer still holds was not delivered; stop it and count what is left.
    let _ = stop_tx.send(());
    let sink = match tokio::time::timeout(Duration::from_secs(1), &mut writer).await {
        Ok(Ok(sink)) => sink,
        _ => {
            writer.abort();
            None
        }
    };
    let lost = undelivered(&shared);
    finish(&shared);
    match ending {
        Ending::Clean { code, reason } => {
            if !lost.is_empty() {
                report.error(Step::Connection, lost.trim_start_matches("; "));
            }
            report.close(code, reason, true);
        }
        Ending::Failed { code, message } => {
            if let (Some(mut sink), true) = (sink, code != 1006) {
                // Best effort: tell the server why, as RFC 6455 asks; never wait long for it.
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: truncate_reason(&message).into(),
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Close(Some(frame))),
                )
                .await;
            }
            let message = format!("{message}{lost}");
            let step = if code == 1006 {
                Step::Connection
            } else {
                Step::WebSocket
            };
            report.error(step, &message);
            report.close(code, message, false);
        }
    }
}

fn finish(shared: &Shared) {
    shared.finished.store(true, Ordering::Release);
}

/// "; 3 messages (12 bytes) given to send were not delivered", or "".
fn undelivered(shared: &Shared) -> String {
    let n = shared.pending.load(Ordering::Acquire);
    if n == 0 {
        return String::new();
    }
    let bytes = shared.buffered.load(Ordering::Acquire);
    let (noun, verb) = if n == 1 {
        ("message", "was")
    } else {
        ("messages", "were")
    };
    format!("; {n} {noun} ({bytes} bytes) given to send {verb} not delivered")
}

/// Holds commands sent while connecting; returns when one of them is a close.
async fn watch_for_close(commands: &mut UnboundedReceiver<Command>, early: &mut VecDeque<Command>) {
    loop {
        match commands.recv().await {
            Some(Command::Close(..)) | None => return,
            Some(cmd) => early.push_back(cmd),
        }
    }
}

/// A close reason must fit a control frame (123 bytes), cut at a character boundary.
fn truncate_reason(text: &str) -> String {
    let mut end = text.len().min(123);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The writer's inputs: commands held while connecting, the live channel, and a stop signal.
struct Queue {
    early: VecDeque<Command>,
    commands: UnboundedReceiver<Command>,
    stop: oneshot::Receiver<()>,
}

/// Writes commands in order, flushing when the queue runs dry; returns the sink if it is usable.
async fn write_loop(
    mut sink: Sink,
    mut queue: Queue,
    shared: Arc<Shared>,
    timing: Timing,
    close_sent: oneshot::Sender<()>,
    report: Reporter,
) -> Option<Sink> {
    let mut pinger = timing.ping_interval.map(|d| {
        let mut t = tokio::time::interval_at(Instant::now() + d, d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut ping_count: u64 = 0;
    let mut unflushed = (0usize, 0usize);
    loop {
        let cmd = if let Some(c) = queue.early.pop_front() {
            Some(c)
        } else {
            tokio::select! {
                _ = &mut queue.stop => return Some(sink),
                c = queue.commands.recv() => c,
                _ = async { match pinger.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                    ping_count += 1;
                    Some(Command::Ping(ping_count.to_string().into_bytes()))
                }
            }
        };
        let Some(cmd) = cmd else {
            return Some(sink);
        };
        let (weight, counts) = (cmd.weight(), cmd.is_message());
        let msg = match cmd {
            Command::Text(s) => Message::Text(s.into()),
            Command::Binary(b) => Message::Binary(b.into()),
            Command::Ping(p) => Message::Ping(p.into()),
            Command::Close(code, reason) => {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                };
                if sink.send(Message::Close(Some(frame))).await.is_err() {
                    return None;
                }
                if shared.written(unflushed.0, unflushed.1) {
                    report.push(Kind::Drain);
                }
                let _ = close_sent.send(());
                return Some(sink);
            }
        };
        let is_ping = matches!(msg, Message::Ping(_));
        if sink.feed(msg).await.is_err() {
            return None;
        }
        if is_ping && timing.pong_timeout.is_some() {
            let first = shared.ping_outstanding.compare_exchange(
                0,
                now_ms() + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            if first.is_ok() {
                shared.pinged.notify_one();
            }
        }
        if counts {
            unflushed.0 += 1;
            unflushed.1 += weight;
        }
        // Flush when the queue runs dry, and every FLUSH_EVERY bytes under sustained sending, so
        // buffered_amount and the "not delivered" count stay close to the truth.
        let idle = queue.early.is_empty() && queue.commands.is_empty();
        if idle || unflushed.1 >= FLUSH_EVERY {
            if sink.flush().await.is_err() {
                return None;
            }
            if shared.written(unflushed.0, unflushed.1) {
                report.push(Kind::Drain);
            }
            unflushed = (0, 0);
        }
    }
}

enum Ending {
    Clean { code: u16, reason: String },
    Failed { code: u16, message: String },
}

/// The read side of an open connection and what it needs to decide how it ends.
struct Reader<'a> {
    report: &'a Reporter,
    timing: Timing,
    target: &'a Target,
    shared: &'a Shared,
    write_clock: Arc<AtomicU64>,
}

impl Reader<'_> {
    async fn run(&self, mut source: Source, mut close_sent: oneshot::Receiver<()>) -> Ending {
        let mut peer_close: Option<(u16, String)> = None;
        let mut deadline: Option<Instant> = None;
        let mut waiting_close_sent = true;
        let mut close_written = false;
        let mut close_requested = false;
        let mut last_heard = Instant::now();
        let mut proven = last_heard;
        // Made once and re-armed only when they fire or their instant moves: building them on
        // every pass inserted and cancelled a timer per message.
        let mut freed = pin!(self.shared.budget.freed.notified());
        let mut close_asked = pin!(self.shared.close_requested.notified());
        let mut pinged = pin!(self.shared.pinged.notified());
        let mut deadline_timer = pin!(sleep_until(Instant::now()));
        let mut deadline_armed: Option<Instant> = None;
        let mut silence_timer = pin!(sleep_until(Instant::now()));
        let mut silence_armed: Option<Instant> = None;
        loop {
            // Ruby is behind: stop reading so TCP pushes back on the server, instead of queueing
            // without bound. Liveness is not judged while we are the slow side.
            let paused = self.shared.budget.used() >= INBOX_BUDGET;
            if paused {
                // We are the slow side: silence from the server means nothing now.
                last_heard = Instant::now();
            }
            let alive_since = last_heard.max(self.upload_progress(&mut proven));
            let silence_limit = self
                .timing
                .pong_timeout
                .filter(|_| !paused && deadline.is_none())
                .and_then(|t| self.ping_sent().map(|sent| sent.max(alive_since) + t));
            let watch_pings =
                self.timing.pong_timeout.is_some() && silence_limit.is_none() && !paused;
            rearm(deadline_timer.as_mut(), &mut deadline_armed, deadline);
            rearm(silence_timer.as_mut(), &mut silence_armed, silence_limit);
            let next = tokio::select! {
                m = source.next(), if !paused => m,
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
                () = deadline_timer.as_mut(), if deadline.is_some() => {
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
                            message: close_timeout_words(self.target, self.timing, close_written),
                        },
                    }
                }
                () = pinged.as_mut(), if watch_pings => {
                    pinged.set(self.shared.pinged.notified());
                    continue;
                }
                () = silence_timer.as_mut(), if silence_limit.is_some() => {
                    silence_armed = None;
                    let timeout = self.timing.pong_timeout.unwrap_or_default();
                    let since = last_heard.max(self.upload_progress(&mut proven));
                    if self.ping_sent().is_none_or(|sent| sent.max(since) + timeout > Instant::now()) {
                        continue; // something arrived or the upload moved meanwhile: the limit moves on
                    }
                    return Ending::Failed { code: 1006, message: self.silence_words() };
                }
            };
            last_heard = Instant::now();
            if self.timing.pong_timeout.is_some() {
                // Any frame proves the link carried something after the outstanding ping.
                self.shared.ping_outstanding.store(0, Ordering::Release);
            }
            match next {
                Some(Ok(Message::Text(t))) => {
                    let bytes = t.len();
                    self.report
                        .message(Kind::Text(t), bytes, &self.shared.budget);
                }
                Some(Ok(Message::Binary(b))) => {
                    let bytes = b.len();
                    self.report
                        .message(Kind::Binary(b), bytes, &self.shared.budget);
                }
                Some(Ok(Message::Pong(p))) => self.report.push(Kind::Pong(p)),
                Some(Ok(Message::Ping(_))) | Some(Ok(Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = match frame {
                        Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                        None => (1005, String::new()),
                    };
                    peer_close = Some((code, reason));
                    // Both close frames are (or are about to be) exchanged: nothing more can
                    // arrive. Give the server a moment to hang up first, as RFC 6455 prefers.
                    let grace = Instant::now() + self.timing.close_timeout.min(CLOSE_GRACE);
                    deadline = Some(deadline.map_or(grace, |d| d.min(grace)));
                }
                None | Some(Err(WsError::ConnectionClosed)) | Some(Err(WsError::AlreadyClosed)) => {
                    return ended_without_error(peer_close, self.target)
                }
                Some(Err(e)) => {
                    if let Some((code, reason)) = peer_close {
                        // The close frames were exchanged; a reset after that loses nothing.
                        return Ending::Clean { code, reason };
                    }
                    return failure(e, self.target);
                }
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
            self.target.authority()
        )
    }
}

/// Points a kept timer at `want` when that changed since it was last armed.
fn rearm(timer: Pin<&mut Sleep>, armed: &mut Option<Instant>, want: Option<Instant>) {
    if let Some(at) = want {
        if *armed != want {
            timer.reset(at);
            *armed = want;
        }
    }
}

/// A `now_ms` reading on tokio's clock.
fn instant_of(ms: u64) -> Instant {
    let ago = now_ms().saturating_sub(ms);
    Instant::now()
        .checked_sub(Duration::from_millis(ago))
        .unwrap_or_else(Instant::now)
}

fn close_timeout_words(target: &Target, timing: Timing, written: bool) -> String {
    let limit = seconds(timing.close_timeout);
    let authority = target.authority();
    if written {
        format!("{authority} did not answer the close handshake within {limit} (close_timeout); the connection was dropped")
    } else {
        format!("the close frame could not be sent to {authority}: the server read nothing for {limit} (close_timeout) with data still queued; the connection was dropped")
    }
}

fn ended_without_error(peer_close: Option<(u16, String)>, target: &Target) -> Ending {
    match peer_close {
        Some((code, reason)) => Ending::Clean { code, reason },
        None => Ending::Failed {
            code: 1006,
            message: format!(
                "the server at {} closed the connection without a WebSocket close frame",
                target.authority()
            ),
        },
    }
}

/// Maps a read error to the close code RFC 6455 asks for and a sentence that says what the server did.
fn failure(e: WsError, target: &Target) -> Ending {
    let server = format!("the server at {}", target.authority());
    let (code, message) = match e {
        WsError::Utf8(detail) => (
            1007,
            format!("{server} sent a text message that is not valid UTF-8 ({detail})"),
        ),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
            1009,
            format!("{server} sent a message of {size} bytes or more, over max_length ({max_size} bytes)"),
        ),
        WsError::Capacity(other) => (1009, format!("{server} sent too much: {other}")),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            return ended_without_error(None, target)
        }
        WsError::Protocol(p) => (1002, format!("{server} broke the WebSocket protocol: {}", protocol_words(&p))),
        WsError::Io(io) => (
            1006,
            match io.kind() {
                std::io::ErrorKind::ConnectionReset => format!("the connection to {} was reset (by the server or the network)", target.authority()),
                std::io::ErrorKind::UnexpectedEof => format!("{server} closed the connection in the middle of a frame"),
                _ => format!("reading from {} failed: {io}", target.authority()),
            },
        ),
        WsError::Tls(t) => (1006, format!("TLS failure on the connection to {}: {t}", target.authority())),
        other => (1006, format!("the connection to {} failed: {other}", target.authority())),
    };
    Ending::Failed { code, message }
}

fn protocol_words(p: &ProtocolError) -> String {
    match p {
        ProtocolError::MaskedFrameFromServer => {
            "it sent a masked frame (servers must not mask)".to_string()
        }
        ProtocolError::NonZeroReservedBits => {
            "it set reserved bits (RSV1-3) that no negotiated extension allows".to_string()
        }
        ProtocolError::UnknownControlFrameType(op)
        | ProtocolError::UnknownDataFrameType(op)
        | ProtocolError::InvalidOpcode(op) => {
            format!("it used the reserved opcode {op}")
        }
        ProtocolError::ControlFrameTooBig => {
            "it sent a control frame longer than 125 bytes".to_string()
        }
        ProtocolError::FragmentedControlFrame => "it sent a fragmented control frame".to_string(),
        ProtocolError::UnexpectedContinueFrame => {
            "it sent a continuation frame with no message to continue".to_string()
        }
        ProtocolError::ExpectedFragment(_) => {
            "it started a new message before finishing the previous one".to_string()
        }
        ProtocolError::InvalidCloseSequence => "it sent an invalid close frame".to_string(),
        other => other.to_string(),
    }
}
