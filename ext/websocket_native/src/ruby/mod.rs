//! Thin magnus glue: one file per Ruby-facing piece.

mod build_info;
mod connection;
mod options;
mod probe;
mod reactor;

use magnus::{function, prelude::*, Error, ExceptionClass, RModule, Ruby};

pub fn init(ruby: &Ruby) -> Result<(), Error> {
    let native = native_module(ruby)?;
    connection::init(ruby, native)?;
    reactor::init(native)?;
    native.define_singleton_method(
        "close_inherited_sockets",
        function!(close_inherited_sockets, 0),
    )?;
    probe::init(ruby, native)?;
    build_info::init(native)?;
    gc_hook()
}

/// Runs `trim::after_gc` after every GC sweep (Ruby frees large Strings there).
fn gc_hook() -> Result<(), Error> {
    crate::trim::init();
    unsafe extern "C" fn swept(_tracepoint: rb_sys::VALUE, _data: *mut std::os::raw::c_void) {
        // Nothing may unwind into Ruby's GC.
        let _ = std::panic::catch_unwind(crate::trim::after_gc);
    }
    magnus::rb_sys::protect(|| {
        // SAFETY: called once at load with the GVL, under rb_protect; the tracepoint is a mark
        // object, so it lives as long as the process. The hook makes no Ruby object and cannot
        // raise.
        unsafe {
            let tracepoint = rb_sys::rb_tracepoint_new(
                rb_sys::Qfalse as rb_sys::VALUE,
                rb_sys::RUBY_INTERNAL_EVENT_GC_END_SWEEP,
                Some(swept),
                std::ptr::null_mut(),
            );
            rb_sys::rb_gc_register_mark_object(tracepoint);
            rb_sys::rb_tracepoint_enable(tracepoint)
        }
    })?;
    Ok(())
}

/// `close_inherited_sockets -> Integer`: called by the fork hook in a child; closes its copies of
/// the parent's connection sockets and says how many.
fn close_inherited_sockets() -> usize {
    crate::sockets::close_inherited()
}

fn native_module(ruby: &Ruby) -> Result<RModule, Error> {
    ruby.define_module("WebSocket")?.define_module("Native")
}

/// `WebSocket::Native::<name>` as defined by lib/websocket/native/errors.rb, or ArgumentError
/// when the Ruby side was not loaded first.
fn error_class(ruby: &Ruby, name: &str) -> ExceptionClass {
    native_module(ruby)
        .and_then(|m| m.const_get::<_, ExceptionClass>(name))
        .unwrap_or_else(|_| ruby.exception_arg_error())
}

/// A `WebSocket::Native::ConfigurationError` with this message.
pub fn config_error(ruby: &Ruby, message: String) -> Error {
    Error::new(error_class(ruby, "ConfigurationError"), message)
}
