//! `WebSocket::Native.drain` and `.wake`: how the Ruby reactor thread takes events from tokio.

use magnus::rb_sys::{protect, FromRawValue};
use magnus::{function, prelude::*, Error, RArray, RModule, Ruby, Value};

use crate::inbox::{Event, Kind};
use crate::runtime;

const OPEN: i64 = 0;
const TEXT: i64 = 1;
const BINARY: i64 = 2;
const PONG: i64 = 3;
const ERROR: i64 = 4;
const CLOSE: i64 = 5;
const DRAIN: i64 = 6;
const TRACE: i64 = 7;
const FAILING: i64 = 8;

/// Payload bytes one drain hands to Ruby at most (one larger message still goes alone).
const BATCH_BYTES: usize = 1024 * 1024;

/// Slots per event in the array `drain` returns.
const STRIDE: usize = 5;

/// drain(max) -> [conn_id, kind, a, b, c, conn_id, kind, ...]: the queued events, at once,
/// without waiting, flat (STRIDE slots each, unused ones nil) so a batch costs Ruby one Array
/// instead of one per event. To wait, Ruby waits for `wakeup_fd` to become readable, then drains.
fn drain(ruby: &Ruby, max: usize) -> Result<RArray, Error> {
    let inbox = &process(ruby)?.inbox;
    let events = inbox.take(max, BATCH_BYTES);
    let out = ruby.ary_new_capa(events.len() * STRIDE);
    for event in &events {
        if let Err(e) = push_event(ruby, out, event) {
            // Out of memory or the like: nothing of this batch is lost; the next drain retries it.
            inbox.give_back(events);
            return Err(e);
        }
    }
    Ok(out)
}

/// The descriptor that turns readable when events are queued or `wake` is called.
fn wakeup_fd(ruby: &Ruby) -> Result<i32, Error> {
    Ok(process(ruby)?.inbox.fd())
}

fn process(ruby: &Ruby) -> Result<std::sync::Arc<runtime::Process>, Error> {
    runtime::current().map_err(|e| {
        Error::new(
            ruby.exception_runtime_error(),
            format!("websocket-native could not set up its event queue: {e}"),
        )
    })
}

/// The frozen, deduplicated UTF-8 String with this text (made only if Ruby has none yet).
fn interned(ruby: &Ruby, text: &str) -> Result<Value, Error> {
    let len = std::os::raw::c_long::try_from(text.len())
        .map_err(|_| Error::new(ruby.exception_arg_error(), "a header name too long"))?;
    let raw = protect(|| {
        // SAFETY: `text` is valid for `len` bytes; the call runs under rb_protect, with the GVL.
        unsafe {
            rb_sys::rb_enc_interned_str(text.as_ptr().cast(), len, rb_sys::rb_utf8_encoding())
        }
    })?;
    // SAFETY: a String Ruby just returned, immediately stored in a reachable Hash by the caller.
    Ok(unsafe { Value::from_raw(raw) })
}

/// Appends `conn_id, kind, a, b, c`. Every Ruby object goes into the array as soon as it is
/// made: a Ruby value held only in a Rust heap allocation is invisible to the GC and may be freed.
fn push_event(ruby: &Ruby, out: RArray, event: &Event) -> Result<(), Error> {
    let start = out.len();
    out.push(event.conn)?;
    match &event.kind {
        Kind::Open {
            protocol,
            status,
            headers,
        } => {
            out.push(OPEN)?;
            out.push(ruby.str_new(protocol))?;
            out.push(*status)?;
            // Names in lower case, as Ruby's shared frozen strings: thousands of connections
            // keep one copy of each name, and none is made again once it exists.
            let table = ruby.hash_new();
            out.push(table)?;
            for (k, v) in headers {
                table.aset(interned(ruby, &k.to_ascii_lowercase())?, ruby.str_new(v))?;
            }
        }
        Kind::Text(t) => {
            crate::trim::delivered(t.len());
            out.push(TEXT)?;
            // Valid UTF-8: the decoder checked it as it arrived.
            out.push(ruby.enc_str_new(t, ruby.utf8_encoding()))?;
        }
        Kind::Binary(b) => {
            crate::trim::delivered(b.len());
            out.push(BINARY)?;
            out.push(ruby.str_from_slice(b))?;
        }
        Kind::Pong(p) => {
            out.push(PONG)?;
            out.push(ruby.str_from_slice(p))?;
        }
        Kind::Drain => out.push(DRAIN)?,
        Kind::Failing => out.push(FAILING)?,
        Kind::Error { step, message } => {
            out.push(ERROR)?;
            out.push(ruby.str_new(step.name()))?;
            out.push(ruby.str_new(message))?;
        }
        Kind::Close {
            code,
            reason,
            clean,
        } => {
            out.push(CLOSE)?;
            out.push(*code)?;
            out.push(ruby.str_new(reason))?;
            out.push(*clean)?;
        }
        Kind::Trace { step, line } => {
            out.push(TRACE)?;
            out.push(ruby.str_new(step.name()))?;
            out.push(ruby.str_new(line))?;
        }
    }
    while out.len() < start + STRIDE {
        out.push(ruby.qnil())?;
    }
    Ok(())
}

/// Makes the reactor's wait return now (stop, a new timer, a scheduled block); safe in a trap.
fn wake(ruby: &Ruby) -> Result<(), Error> {
    process(ruby)?.inbox.wake();
    Ok(())
}

pub fn init(native: RModule) -> Result<(), Error> {
    native.define_singleton_method("drain", function!(drain, 1))?;
    native.define_singleton_method("wakeup_fd", function!(wakeup_fd, 0))?;
    native.define_singleton_method("wake", function!(wake, 0))?;
    Ok(())
}
