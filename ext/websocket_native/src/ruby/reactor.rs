//! `WebSocket::Native.drain` and `.wake`: how the Ruby reactor thread takes events from tokio.

use std::time::Duration;

use magnus::{function, prelude::*, Error, RArray, RModule, Ruby};

use super::gvl::wait_without_gvl;
use crate::inbox::{Event, Kind};
use crate::runtime;

const OPEN: i64 = 0;
const TEXT: i64 = 1;
const BINARY: i64 = 2;
const PONG: i64 = 3;
const ERROR: i64 = 4;
const CLOSE: i64 = 5;

/// drain(max, timeout) -> [[conn_id, kind, *payload], ...]
///
/// Returns at once when events are queued; otherwise waits without the GVL until events arrive,
/// `wake` is called, `timeout` seconds pass (nil: no limit), or the thread is interrupted.
fn drain(ruby: &Ruby, max: usize, timeout: Option<f64>) -> Result<RArray, Error> {
    let process = runtime::current();
    let mut events = process.inbox.take(max);
    if events.is_empty() {
        let limit = match timeout {
            None => None,
            Some(t) if t <= 0.0 => Some(Duration::ZERO),
            Some(t) => Some(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX)),
        };
        if limit != Some(Duration::ZERO) {
            wait_without_gvl(&process.inbox, limit);
            ruby.thread_check_ints()?;
            events = process.inbox.take(max);
        }
    }
    let out = ruby.ary_new_capa(events.len());
    for event in events {
        out.push(to_ruby(ruby, event)?)?;
    }
    Ok(out)
}

/// Builds `[conn_id, kind, *payload]`. Every Ruby object goes into the array as soon as it is
/// made: a Ruby value held only in a Rust heap allocation is invisible to the GC and may be freed.
fn to_ruby(ruby: &Ruby, event: Event) -> Result<RArray, Error> {
    let out = ruby.ary_new_capa(5);
    out.push(event.conn)?;
    match event.kind {
        Kind::Open {
            protocol,
            status,
            headers,
        } => {
            out.push(OPEN)?;
            out.push(ruby.str_new(&protocol))?;
            out.push(status)?;
            let pairs = ruby.ary_new_capa(headers.len());
            out.push(pairs)?;
            for (k, v) in headers {
                let pair = ruby.ary_new_capa(2);
                pairs.push(pair)?;
                pair.push(ruby.str_new(&k))?;
                pair.push(ruby.str_new(&v))?;
            }
        }
        Kind::Text(t) => {
            out.push(TEXT)?;
            out.push(ruby.str_new(&t))?;
        }
        Kind::Binary(b) => {
            out.push(BINARY)?;
            out.push(ruby.str_from_slice(&b))?;
        }
        Kind::Pong(p) => {
            out.push(PONG)?;
            out.push(ruby.str_from_slice(&p))?;
        }
        Kind::Error { step, message } => {
            out.push(ERROR)?;
            out.push(ruby.str_new(step.name()))?;
            out.push(ruby.str_new(&message))?;
        }
        Kind::Close {
            code,
            reason,
            clean,
        } => {
            out.push(CLOSE)?;
            out.push(code)?;
            out.push(ruby.str_new(&reason))?;
            out.push(clean)?;
        }
    }
    Ok(out)
}

/// Makes a waiting `drain` return now (stop, a new timer, a scheduled block).
fn wake() {
    runtime::current().inbox.wake();
}

pub fn init(native: RModule) -> Result<(), Error> {
    native.define_singleton_method("drain", function!(drain, 2))?;
    native.define_singleton_method("wake", function!(wake, 0))?;
    Ok(())
}
