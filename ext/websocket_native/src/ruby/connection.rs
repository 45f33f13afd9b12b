//! `WebSocket::Native::Connection`: the native handle behind a Ruby client.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use magnus::encoding::Coderange;
use magnus::{function, method, prelude::*, Error, RHash, RModule, RString, Ruby};
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::dial::Target;
use crate::inbox::{Kind, Step};
use crate::runtime;
use crate::session::{self, Command, Shared, Timing};

/// What `start` hands to the connection task.
struct Pending {
    id: u64,
    target: Box<Target>,
    timing: Timing,
    log: bool,
}

#[magnus::wrap(class = "WebSocket::Native::Connection", free_immediately, size)]
pub struct Connection {
    /// The fork generation that made this handle (see `runtime::generation`).
    generation: u64,
    shared: Arc<Shared>,
    /// Boxed: once started, an open connection's handle holds a pointer, not a whole Target.
    pending: Mutex<Option<Box<Pending>>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !runtime::is_current(self.generation) {
            // Inherited across fork: what it shares belongs to the parent's runtime (its wakers
            // too); leave it alone.
            std::mem::forget(self.shared.clone());
            return;
        }
        // The sender is gone: the writer ends once it has written what is queued.
        self.shared.commands.shut();
    }
}

impl Connection {
    /// Connection.open(id, options) -> Connection. Checks the options (raising
    /// ConfigurationError) but does no I/O until `start`, so the Ruby client is complete before
    /// any of its events can arrive.
    fn open(ruby: &Ruby, id: u64, options: RHash) -> Result<Self, Error> {
        let (target, timing) = super::options::read(ruby, options)?;
        let send_limit = super::options::send_limit(ruby, options)?;
        let log = super::options::wants_log(ruby, options)?;
        Ok(Connection {
            generation: runtime::generation(),
            shared: Arc::new(Shared::new(send_limit)),
            pending: Mutex::new(Some(Box::new(Pending {
                id,
                target: Box::new(target),
                timing,
                log,
            }))),
        })
    }

    /// Starts dialing on the tokio runtime; every outcome arrives as events for the id.
    fn start(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        let taken = rb_self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(p) = taken else {
            return Ok(false);
        };
        let Pending {
            id,
            mut target,
            timing,
            log,
        } = *p;
        let process = runtime::current().map_err(|e| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("could not set up the event queue: {e}"),
            )
        })?;
        let rt = process.runtime().map_err(|e| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("could not start the I/O runtime: {e}"),
            )
        })?;
        let inbox = process.inbox.clone();
        if log {
            let sink = inbox.clone();
            target.trace = Some(Arc::new(move |step, line| {
                sink.push(id, Kind::Trace { step, line });
            }));
        }
        let shared = rb_self.shared.clone();
        let session = session::run(id, target, timing, inbox.clone(), shared.clone());
        // A combinator, not an async block: a block would hold the session future twice.
        let guarded = AssertUnwindSafe(session).catch_unwind().map(move |result| {
            // A bug must still end the connection with an error and a close, never a silent hang.
            if let Err(panic) = result {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                let message = format!("internal error in websocket-native ({what}); the connection was dropped. Please report this.");
                shared.finished.store(true, Ordering::Release);
                inbox.push(id, Kind::Error { step: Step::Connection, message: message.clone() });
                inbox.push(id, Kind::Close { code: 1006, reason: message, clean: false });
            }
        });
        rt.spawn(guarded);
        Ok(true)
    }

    /// Some(true) queued, Some(false) refused (closed, or a handle from before a fork), None
    /// over the send limit (Ruby raises; a `:drain` event follows once there is room).
    fn enqueue(&self, cmd: Command) -> Option<bool> {
        if !runtime::is_current(self.generation) || self.shared.finished.load(Ordering::Acquire) {
            return Some(false);
        }
        let (weight, counted) = (cmd.weight(), cmd.is_message());
        if counted && !self.shared.admit(weight) {
            return None;
        }
        if self.shared.commands.send(cmd).is_ok() {
            return Some(true);
        }
        if counted {
            self.shared.written(1, weight);
        }
        Some(false)
    }

    /// Queues a text message; the String must hold valid UTF-8. Returns nil over the send limit.
    fn send_text(ruby: &Ruby, rb_self: &Self, data: RString) -> Result<Option<bool>, Error> {
        // Ruby caches a String's coderange: a String already known valid is not checked again.
        let known_valid = data.is_utf8_compatible_encoding()
            && matches!(
                data.enc_coderange_scan(),
                Coderange::SevenBit | Coderange::Valid
            );
        // SAFETY: the bytes are copied at once, before any Ruby code can run.
        let bytes = unsafe { data.as_slice() }.to_vec();
        let text = if known_valid {
            // SAFETY: Ruby just confirmed these bytes are valid UTF-8 (or 7-bit ASCII).
            unsafe { String::from_utf8_unchecked(bytes) }
        } else {
            String::from_utf8(bytes).map_err(|e| {
                Error::new(
                    ruby.exception_arg_error(),
                    format!(
                        "a text message must be valid UTF-8, but byte {} is not; send binary data as a String with BINARY (ASCII-8BIT) encoding",
                        e.utf8_error().valid_up_to()
                    ),
                )
            })?
        };
        Ok(rb_self.enqueue(Command::Text(text)))
    }

    /// Queues a binary message. Returns nil over the send limit.
    fn send_binary(&self, data: RString) -> Option<bool> {
        // SAFETY: as in send_text.
        let bytes = unsafe { data.as_slice() }.to_vec();
        self.enqueue(Command::Binary(bytes))
    }

    /// Queues a ping with this payload (at most 125 bytes, checked in Ruby).
    fn ping(&self, payload: RString) -> bool {
        // SAFETY: as in send_text.
        let bytes = unsafe { payload.as_slice() }.to_vec();
        self.enqueue(Command::Ping(bytes)).unwrap_or(false)
    }

    /// Starts the close handshake after every queued message has been written.
    fn close(&self, code: u16, reason: String) -> bool {
        let queued = self.enqueue(Command::Close(code, reason)).unwrap_or(false);
        if queued {
            self.shared.close_requested.notify_one();
        }
        queued
    }

    /// Answers a `Failing` event: queued behind the replies that callbacks sent for the server's
    /// earlier messages, so they are written before the session's close frame.
    fn barrier(&self) -> bool {
        self.enqueue(Command::Barrier).unwrap_or(false)
    }

    /// Bytes given to send that are not yet written to the socket.
    fn buffered_amount(&self) -> usize {
        self.shared.buffered.load(Ordering::Acquire)
    }

    /// The most bytes `send` may have queued (a larger message is still taken alone).
    fn send_limit(&self) -> usize {
        self.shared.send_limit
    }

    /// Received message bytes waiting for the reactor (at most about 8 MiB: then reading pauses).
    fn inbox_bytes(&self) -> usize {
        self.shared.budget.used()
    }

    /// Counts a message Ruby keeps unread (for `receive`) against the budget, so reading pauses
    /// while unread messages pile up, as it does for slow callbacks.
    fn hold(&self, bytes: usize) {
        self.shared.budget.charge(bytes);
    }

    /// Gives back what `hold` counted, once the message is read.
    fn release(&self, bytes: usize) {
        self.shared.budget.release(bytes);
    }

    /// True in a forked child for a connection opened by the parent.
    fn inherited(&self) -> bool {
        !runtime::is_current(self.generation)
    }
}

pub fn init(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Connection", ruby.class_object())?;
    class.undef_default_alloc_func();
    class.define_singleton_method("open", function!(Connection::open, 2))?;
    class.define_method("start", method!(Connection::start, 0))?;
    class.define_method("send_text", method!(Connection::send_text, 1))?;
    class.define_method("send_binary", method!(Connection::send_binary, 1))?;
    class.define_method("ping", method!(Connection::ping, 1))?;
    class.define_method("close", method!(Connection::close, 2))?;
    class.define_method("barrier", method!(Connection::barrier, 0))?;
    class.define_method("buffered_amount", method!(Connection::buffered_amount, 0))?;
    class.define_method("send_limit", method!(Connection::send_limit, 0))?;
    class.define_method("inbox_bytes", method!(Connection::inbox_bytes, 0))?;
    class.define_method("hold", method!(Connection::hold, 1))?;
    class.define_method("release", method!(Connection::release, 1))?;
    class.define_method("inherited?", method!(Connection::inherited, 0))?;
    Ok(())
}
