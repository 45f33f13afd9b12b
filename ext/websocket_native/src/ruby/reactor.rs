//! `WebSocket::Native.drain` and `.wake`: how the Ruby reactor thread takes events from tokio.

use std::time::Duration;

use magnus::{function, prelude::*, Error, IntoValue, RArray, RModule, Ruby, Value};

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

fn to_ruby(ruby: &Ruby, event: Event) -> Result<RArray, Error> {
    let id = event.conn.into_value_with(ruby);
    let items: Vec<Value> = match event.kind {
        Kind::Open {
            protocol,
            status,
            headers,
        } => {
            let pairs = ruby.ary_new_capa(headers.len());
            for (k, v) in headers {
                pairs.push((ruby.str_new(&k), ruby.str_new(&v)))?;
            }
            vec![
                id,
                OPEN.into_value_with(ruby),
                ruby.str_new(&protocol).as_value(),
                status.into_value_with(ruby),
                pairs.as_value(),
            ]
        }
        Kind::Text(t) => vec![id, TEXT.into_value_with(ruby), ruby.str_new(&t).as_value()],
        Kind::Binary(b) => vec![id, BINARY.into_value_with(ruby), ruby.str_from_slice(&b).as_value()],
        Kind::Pong(p) => vec![id, PONG.into_value_with(ruby), ruby.str_from_slice(&p).as_value()],
        Kind::Error { step, message } => vec![
            id,
            ERROR.into_value_with(ruby),
            ruby.str_new(step.name()).as_value(),
            ruby.str_new(&message).as_value(),
        ],
        Kind::Close {
            code,
            reason,
            clean,
        } => vec![
            id,
            CLOSE.into_value_with(ruby),
            code.into_value_with(ruby),
            ruby.str_new(&reason).as_value(),
            clean.into_value_with(ruby),
        ],
    };
    Ok(ruby.ary_new_from_values(&items))
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
