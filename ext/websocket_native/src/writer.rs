//! The write side of an open connection: commands in order, batched flushes, pings, the close frame.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::SinkExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::inbox::Kind;
use crate::session::{Command, Reporter, Shared, Sink, Timing};
use crate::transport::now_ms;

/// Under sustained sending, flush (and count as written) at least this often.
const FLUSH_EVERY: usize = 64 * 1024;

/// The writer's inputs: commands held while connecting, the live channel, and a stop signal.
pub(crate) struct Queue {
    pub early: VecDeque<Command>,
    pub commands: UnboundedReceiver<Command>,
    pub stop: oneshot::Receiver<()>,
}

/// Writes commands in order, flushing when the queue runs dry; returns the sink if it is usable.
pub(crate) async fn write_loop(
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
            Command::Barrier => {
                if sink.flush().await.is_err() {
                    return None;
                }
                if shared.written(unflushed.0, unflushed.1) {
                    report.push(Kind::Drain);
                }
                return Some(sink);
            }
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
