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
