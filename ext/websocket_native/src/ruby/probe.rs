//! `WebSocket::Native::Probe`: runs the doctor's probe on the tokio runtime; Ruby waits on a
//! descriptor (IO#wait_readable, so Ctrl-C works) and then takes the facts as plain Hashes.

use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use magnus::{function, method, prelude::*, Error, IntoValue, RArray, RHash, RModule, Ruby};

use crate::probe::{self, Settings, StepReport, Value};
use crate::runtime;

struct Outcome {
    done: Mutex<Option<Vec<StepReport>>>,
    reader: UnixStream,
    writer: UnixStream,
}

#[magnus::wrap(class = "WebSocket::Native::Probe", free_immediately, size)]
pub struct Probe {
    outcome: Arc<Outcome>,
}

impl Probe {
    /// Probe.start(options, send_sni, tls_only, pings, step_timeout) -> Probe
    fn start(
        ruby: &Ruby,
        options: RHash,
        send_sni: bool,
        tls_only: bool,
        pings: usize,
        step_timeout: f64,
    ) -> Result<Self, Error> {
        let (target, _) = super::options::read(ruby, options)?;
        let step_timeout = Duration::try_from_secs_f64(step_timeout)
            .map_err(|_| super::config_error(ruby, format!("bad step timeout {step_timeout}")))?;
        let settings = Settings {
            tls: super::options::tls_options(ruby, options)?,
            send_sni,
            tls_only,
            pings,
            step_timeout,
        };
        let runtime_error = |e: std::io::Error| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("could not start the probe: {e}"),
            )
        };
        let (reader, writer) = UnixStream::pair().map_err(runtime_error)?;
        let outcome = Arc::new(Outcome {
            done: Mutex::new(None),
            reader,
            writer,
        });
        let process = runtime::current().map_err(runtime_error)?;
        let rt = process.runtime().map_err(runtime_error)?;
        let out = outcome.clone();
        rt.spawn(async move {
            let walked = AssertUnwindSafe(probe::run(target, settings))
                .catch_unwind()
                .await;
            let steps = walked.unwrap_or_else(|_| {
                vec![StepReport {
                    name: "internal",
                    ok: false,
                    ms: 0.0,
                    error: Some(
                        "internal error in websocket-native's probe; please report this"
                            .to_string(),
                    ),
                    facts: Vec::new(),
                }]
            });
            *out.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(steps);
            let _ = (&out.writer).write(&[1]);
        });
        Ok(Probe { outcome })
    }

    /// The descriptor that turns readable when the probe has finished.
    fn fd(&self) -> i32 {
        self.outcome.reader.as_raw_fd()
    }

    /// nil while running; then [{name:, ok:, ms:, error:, facts: {...}}, ...].
    fn result(ruby: &Ruby, rb_self: &Self) -> Result<Option<RArray>, Error> {
        let done = rb_self
            .outcome
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(steps) = done else {
            return Ok(None);
        };
        let out = ruby.ary_new_capa(steps.len());
        for step in steps {
            let hash = ruby.hash_new();
            out.push(hash)?;
            hash.aset(ruby.to_symbol("name"), step.name)?;
            hash.aset(ruby.to_symbol("ok"), step.ok)?;
            hash.aset(ruby.to_symbol("ms"), step.ms)?;
            hash.aset(ruby.to_symbol("error"), step.error)?;
            hash.aset(
                ruby.to_symbol("facts"),
                to_ruby(ruby, &Value::Map(step.facts))?,
            )?;
        }
        Ok(Some(out))
    }
}

/// Converts a fact tree; each new object goes into its parent at once (GC safety, as in drain).
fn to_ruby(ruby: &Ruby, value: &Value) -> Result<magnus::Value, Error> {
    Ok(match value {
        Value::Nil => ruby.qnil().as_value(),
        Value::Bool(b) => (*b).into_value_with(ruby),
        Value::Int(i) => (*i).into_value_with(ruby),
        Value::Float(f) => (*f).into_value_with(ruby),
        Value::Str(s) => ruby.str_new(s).as_value(),
        Value::Bytes(b) => ruby.str_from_slice(b).as_value(),
        Value::List(items) => {
            let list = ruby.ary_new_capa(items.len());
            for item in items {
                list.push(to_ruby(ruby, item)?)?;
            }
            list.as_value()
        }
        Value::Map(pairs) => {
            let hash = ruby.hash_new();
            for (k, v) in pairs {
                hash.aset(ruby.to_symbol(k), to_ruby(ruby, v)?)?;
            }
            hash.as_value()
        }
    })
}

pub fn init(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Probe", ruby.class_object())?;
    class.undef_default_alloc_func();
    class.define_singleton_method("start", function!(Probe::start, 5))?;
    class.define_method("fd", method!(Probe::fd, 0))?;
    class.define_method("result", method!(Probe::result, 0))?;
    Ok(())
}
