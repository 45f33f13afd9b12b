//! A connection's life in boxed phases: dial, then live (an always-polled reader, reader.rs, and
//! a writer task fed by the command queue, writer.rs), then the conclusion; what Ruby and the
//! task share; how the connection's end is reported.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::commands::Commands;
use crate::dial::{self, Target};
use crate::encode;
use crate::inbox::{Budget, Inbox, Kind, Step};
use crate::reader::{Ending, Reader};
use crate::trim;
use crate::waves;
use crate::writer::{write_loop, Queue, WriteSide};

/// After the server broke the protocol, how long the replies to its earlier messages may take to
/// be queued by Ruby and written before our close frame goes out anyway (see `Kind::Failing`).
const REPLY_GRACE: Duration = Duration::from_secs(1);

/// What the reader asks the writer to send: pongs, the reply to the server's close frame.
#[derive(Default)]
pub struct Answer {
    pub pongs: VecDeque<Vec<u8>>,
    pub close_reply: Option<u16>,
}

/// Pongs owed at most; a server that pings faster than we can answer gets the latest ones
/// (RFC 6455 section 5.5.3 allows answering only the most recent ping).
const PONGS_OWED: usize = 16;

/// What Ruby asks a connection to do; sent in order through one channel.
#[derive(Debug)]
pub enum Command {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16, String),
    /// Ruby's answer to `Kind::Failing`: every reply its callbacks queued for earlier messages
    /// is ahead of this in the channel. The writer writes them and hands the sink back.
    Barrier,
}

impl Command {
    /// Bytes this command adds to `buffered_amount`.
    pub fn weight(&self) -> usize {
        match self {
            Command::Text(s) => s.len(),
            Command::Binary(b) => b.len(),
            Command::Ping(_) | Command::Close(..) | Command::Barrier => 0,
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
    /// What Ruby asked for, in order.
    pub commands: Commands,
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
    /// Set when the server broke the protocol: a close the application asks for meanwhile ends
    /// the writer like the barrier, so the session's close code (1002, 1007, 1009) goes out.
    pub failing: AtomicBool,
    /// Answers the reader asks for; `answer_ready` wakes the writer.
    answer: Mutex<Answer>,
    pub answer_ready: Notify,
}

impl Shared {
    pub fn new(send_limit: usize) -> Self {
        Shared {
            send_limit,
            refused: AtomicBool::new(false),
            buffered: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            commands: Commands::default(),
            close_requested: Notify::new(),
            budget: Arc::default(),
            ping_outstanding: AtomicU64::new(0),
            pinged: Notify::new(),
            failing: AtomicBool::new(false),
            answer: Mutex::default(),
            answer_ready: Notify::new(),
        }
    }

    fn answers(&self) -> std::sync::MutexGuard<'_, Answer> {
        self.answer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The server pinged: the writer answers with a pong.
    pub fn answer_ping(&self, payload: Vec<u8>) {
        let mut answers = self.answers();
        if answers.pongs.len() == PONGS_OWED {
            answers.pongs.pop_front();
        }
        answers.pongs.push_back(payload);
        drop(answers);
        self.answer_ready.notify_one();
    }

    /// The server closed: the writer replies with its code unless our own close went first.
    pub fn answer_close(&self, code: u16) {
        self.answers().close_reply = Some(code);
        self.answer_ready.notify_one();
    }

    pub fn take_answer(&self) -> Answer {
        std::mem::take(&mut *self.answers())
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
pub(crate) struct Reporter {
    id: u64,
    inbox: Arc<Inbox>,
}

impl Reporter {
    pub fn push(&self, kind: Kind) {
        self.inbox.push(self.id, kind);
    }

    pub fn message(&self, kind: Kind, bytes: usize, budget: &Arc<Budget>) {
        self.inbox.push_counted(self.id, kind, budget, bytes);
    }

    pub fn error(&self, step: Step, message: &str) {
        self.push(Kind::Error {
            step,
            message: message.to_string(),
        });
    }

    pub fn close(&self, code: u16, reason: String, clean: bool) {
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
    target: Box<Target>,
    timing: Timing,
    inbox: Arc<Inbox>,
    shared: Arc<Shared>,
) {
    let report = Reporter { id, inbox };
    // Each phase is boxed: the task itself stays small, the dial's state (kilobytes) is freed
    // once open, and an open connection holds only what its live phase needs.
    let dialing = trim::dialing();
    let dialed = Box::pin(dial_phase(&target, &report, &shared)).await;
    drop(dialing);
    if let Some((opened, early)) = dialed {
        // The dial's settings are not needed any more: keep only what the words of an ending use.
        let authority = target.authority();
        let max_length = target.max_length;
        drop(target);
        let link = Link {
            authority,
            max_length,
            timing,
        };
        Box::pin(live(link, report, shared, opened, early)).await;
    }
}

/// Dials, holding sends until open; reports a failed or abandoned dial (and returns None).
async fn dial_phase(
    target: &Target,
    report: &Reporter,
    shared: &Shared,
) -> Option<(dial::Opened, VecDeque<Command>)> {
    let mut early = VecDeque::new();
    let dial = async {
        let _turn = waves::turn(&target.authority(), target.open_timeout).await;
        dial::open(target).await
    };
    let opened = tokio::select! {
        r = dial => Some(r),
        () = watch_for_close(&shared.commands, &mut early) => None,
    };
    let reason = match opened {
        Some(Ok(o)) => return Some((o, early)),
        None => format!(
            "closed by the client before the connection to {} was open{}",
            target.authority(),
            undelivered(shared)
        ),
        Some(Err(failure)) => {
            report.error(failure.step, &failure.message);
            format!("{}{}", failure.message, undelivered(shared))
        }
    };
    finish(shared);
    report.close(1006, reason, false);
    None
}

/// What an open connection keeps of its settings.
struct Link {
    authority: String,
    max_length: usize,
    timing: Timing,
}

/// An open connection: reader here, writer in its own task, then the end reported.
async fn live(
    link: Link,
    report: Reporter,
    shared: Arc<Shared>,
    opened: dial::Opened,
    early: VecDeque<Command>,
) {
    report.push(Kind::Open {
        protocol: opened.protocol,
        status: opened.status,
        headers: opened.headers,
    });
    let write_clock = opened.transport.write_clock();
    let (source, sink) = tokio::io::split(opened.transport);
    let (close_tx, close_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let timing = link.timing;
    let writer = spawn_writer(sink, early, stop_rx, &shared, timing, close_tx, &report);
    let ending = Reader {
        report: &report,
        timing,
        authority: &link.authority,
        max_length: link.max_length,
        shared: &shared,
        write_clock,
    }
    .run(source, close_rx)
    .await;
    // Boxed: its timers and writes would otherwise sit in this future all the connection's life.
    Box::pin(conclude(ending, writer, stop_tx, timing, report, shared)).await;
}

/// Starts the writer task. Not inline in `live`: the writer's future would take room there too.
fn spawn_writer(
    sink: WriteSide,
    early: VecDeque<Command>,
    stop: oneshot::Receiver<()>,
    shared: &Arc<Shared>,
    timing: Timing,
    close_sent: oneshot::Sender<()>,
    report: &Reporter,
) -> JoinHandle<Option<WriteSide>> {
    let queue = Queue { early, stop };
    tokio::spawn(write_loop(
        sink,
        queue,
        shared.clone(),
        timing,
        close_sent,
        report.clone(),
    ))
}

/// After the reader ended: the writer finished or stopped, then the close reported (and, on a
/// protocol failure, our close frame sent).
async fn conclude(
    ending: Ending,
    mut writer: JoinHandle<Option<WriteSide>>,
    stop_tx: oneshot::Sender<()>,
    timing: Timing,
    report: Reporter,
    shared: Arc<Shared>,
) {
    // The server broke the protocol after messages whose callbacks may still be replying: let
    // Ruby run them and queue a barrier behind their replies, so those go out before our close.
    let replied = match ending {
        Ending::Failed { code, .. } if code != 1006 => {
            shared.failing.store(true, Ordering::Release);
            report.push(Kind::Failing);
            let grace = timing.close_timeout.min(REPLY_GRACE);
            Some(tokio::time::timeout(grace, &mut writer).await.ok())
        }
        _ => None,
    };
    let sink = match replied {
        Some(Some(finished)) => finished.ok().flatten(),
        waited => {
            // Anything the writer still holds was not delivered; stop it and count what is left.
            // After a grace that ran out, it is stuck writing to a peer that does not read.
            let _ = stop_tx.send(());
            let wait = if waited.is_some() {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            };
            match tokio::time::timeout(wait, &mut writer).await {
                Ok(Ok(sink)) => sink,
                _ => {
                    writer.abort();
                    None
                }
            }
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
                let mut frame = Vec::new();
                encode::frame(
                    &mut frame,
                    encode::CLOSE,
                    &encode::close_payload(code, &message),
                );
                let write = async {
                    sink.write_all(&frame).await?;
                    sink.flush().await
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
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
    shared.commands.shut();
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
async fn watch_for_close(commands: &Commands, early: &mut VecDeque<Command>) {
    loop {
        match commands.recv().await {
            Some(Command::Close(..)) | None => return,
            Some(cmd) => early.push_back(cmd),
        }
    }
}
