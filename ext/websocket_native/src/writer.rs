//! The write side of an open connection: commands in order, batched writes, pings, the answers
//! the reader asks for (pongs, the reply to the server's close), the close frame.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::encode;
use crate::inbox::Kind;
use crate::session::{Command, Reporter, Shared, Timing};
use crate::transport::{now_ms, Transport};

pub(crate) type WriteSide = WriteHalf<Transport>;

/// Under sustained sending, write (and count as written) at least this often.
const FLUSH_EVERY: usize = 64 * 1024;

/// Answers to the server (pongs) written in a row before a queued command gets its turn.
const ANSWERS_IN_A_ROW: usize = 8;

/// A payload this large is masked where it is and written on its own, not copied into the
/// batch buffer.
const ALONE: usize = 16 * 1024;

/// The writer's inputs besides `Shared::commands`: commands held while connecting, and a stop
/// signal.
pub(crate) struct Queue {
    pub early: VecDeque<Command>,
    pub stop: oneshot::Receiver<()>,
}

/// Once the writer is gone (returned or aborted), sends are refused: nobody would write them.
struct ShutOnDrop<'a>(&'a Shared);

impl Drop for ShutOnDrop<'_> {
    fn drop(&mut self) {
        self.0.commands.shut();
    }
}

/// Frames waiting to be written, and the messages among them not yet counted as written.
struct Batch {
    out: WriteSide,
    buf: Vec<u8>,
    messages: usize,
    bytes: usize,
    shared: Arc<Shared>,
    report: Reporter,
}

impl Batch {
    /// Writes what is batched, then `alone` if given (in one system call where the stream
    /// allows: a lone header would go out as a packet of its own), and flushes.
    async fn write(&mut self, alone: Option<&[u8]>) -> io::Result<()> {
        let mut parts: [&[u8]; 2] = [&self.buf, alone.unwrap_or_default()];
        while !parts[1].is_empty() || !parts[0].is_empty() {
            let slices = [IoSlice::new(parts[0]), IoSlice::new(parts[1])];
            let mut n = self.out.write_vectored(&slices).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            for part in &mut parts {
                let step = n.min(part.len());
                *part = &part[step..];
                n -= step;
            }
        }
        self.out.flush().await?;
        // Nothing is kept at its peak: an idle connection holds no write buffer.
        self.buf = Vec::new();
        Ok(())
    }

    /// Writes and counts the batch as written; reports `Drain` when a refused sender should
    /// hear there is room again.
    async fn flush(&mut self, alone: Option<&[u8]>) -> io::Result<()> {
        self.write(alone).await?;
        if self.shared.written(self.messages, self.bytes) {
            self.report.push(Kind::Drain);
        }
        (self.messages, self.bytes) = (0, 0);
        Ok(())
    }

    /// Frames a message; a large one is written at once.
    async fn message(&mut self, opcode: u8, mut payload: Vec<u8>) -> io::Result<()> {
        self.messages += 1;
        self.bytes += payload.len();
        if payload.len() < ALONE {
            encode::frame(&mut self.buf, opcode, &payload);
            return Ok(());
        }
        let key = encode::header(&mut self.buf, opcode, payload.len());
        encode::mask(&mut payload, key);
        self.flush(Some(&payload)).await
    }

    /// Writes what is batched and gives the stream back to the session.
    async fn hand_back(mut self) -> Option<WriteSide> {
        self.flush(None).await.ok()?;
        Some(self.out)
    }

    /// Writes a close frame after what is batched, and tells the reader it went out.
    async fn close(mut self, code: u16, reason: &str, sent: oneshot::Sender<()>) {
        encode::frame(
            &mut self.buf,
            encode::CLOSE,
            &encode::close_payload(code, reason),
        );
        if self.flush(None).await.is_ok() {
            let _ = sent.send(());
        }
    }
}

/// Writes commands in order, flushing when the queue runs dry; returns the write side if it is
/// usable and no close frame was written (for the session's close frame after a failure).
pub(crate) async fn write_loop(
    out: WriteSide,
    mut queue: Queue,
    shared: Arc<Shared>,
    timing: Timing,
    close_sent: oneshot::Sender<()>,
    report: Reporter,
) -> Option<WriteSide> {
    let mut pinger = timing.ping_interval.map(|d| {
        let mut t = tokio::time::interval_at(Instant::now() + d, d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let _shut = ShutOnDrop(&shared);
    let mut ping_count: u64 = 0;
    let mut answered = 0;
    let mut batch = Batch {
        out,
        buf: Vec::new(),
        messages: 0,
        bytes: 0,
        shared: shared.clone(),
        report,
    };
    loop {
        let cmd = if let Some(c) = queue.early.pop_front() {
            Some(c)
        } else {
            tokio::select! {
                // In this order: a pong owed for a ping that came before a message goes out
                // before the reply to that message (Autobahn 5.19, 5.20), and a due keepalive
                // ping is not starved by a steady stream of sends.
                biased;
                _ = &mut queue.stop => return Some(batch.out),
                // A server that pings without pause must not starve our sends: after a run of
                // answers, a queued command goes first.
                () = shared.answer_ready.notified(), if answered < ANSWERS_IN_A_ROW || shared.commands.is_empty() => {
                    answered += 1;
                    let answer = shared.take_answer();
                    if !answer.pongs.is_empty() {
                        for payload in &answer.pongs {
                            encode::frame(&mut batch.buf, encode::PONG, payload);
                        }
                        batch.flush(None).await.ok()?;
                    }
                    if let Some(code) = answer.close_reply {
                        // The server closed: answer with its code, then write nothing more.
                        batch.close(code, "", close_sent).await;
                        return None; // a close frame went out: nobody may send another
                    }
                    continue;
                }
                _ = async { match pinger.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                    ping_count += 1;
                    Some(Command::Ping(ping_count.to_string().into_bytes()))
                }
                c = shared.commands.recv() => c,
            }
        };
        let Some(cmd) = cmd else {
            return Some(batch.out);
        };
        answered = 0;
        match cmd {
            Command::Text(s) => batch.message(encode::TEXT, s.into_bytes()).await.ok()?,
            Command::Binary(b) => batch.message(encode::BINARY, b).await.ok()?,
            Command::Ping(p) => {
                encode::frame(&mut batch.buf, encode::PING, &p);
                if timing.pong_timeout.is_some() {
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
            }
            // Everything before it is written; the session takes the stream from here. While the
            // session is failing the connection, a close asked for meanwhile ends the writer the
            // same way: the session's close frame goes out, not this one.
            Command::Barrier => return batch.hand_back().await,
            Command::Close(..) if shared.failing.load(Ordering::Acquire) => {
                return batch.hand_back().await
            }
            Command::Close(code, reason) => {
                batch.close(code, &reason, close_sent).await;
                return None; // a close frame went out: nobody may send another
            }
        }
        // Write when the queue runs dry, and every FLUSH_EVERY bytes under sustained sending, so
        // buffered_amount and the "not delivered" count stay close to the truth.
        let idle = queue.early.is_empty() && shared.commands.is_empty();
        if (idle || batch.buf.len() >= FLUSH_EVERY) && !batch.buf.is_empty() {
            batch.flush(None).await.ok()?;
        }
    }
}
