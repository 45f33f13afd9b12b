# frozen_string_literal: true

module Support
  # Helpers for the blocking API's specs.
  module Blocking
    # @return [Float] seconds the block took
    def elapsed
      started = WebSocket::Native.now
      yield
      WebSocket::Native.now - started
    end

    # Runs the block on the reactor thread (inside WebSocket::Native.run).
    # @return [String, nil] the message of the WebSocket::Native::Error it raised
    def error_on_reactor_thread
      message = nil
      WebSocket::Native.run do
        yield
      rescue WebSocket::Native::Error => e
        message = e.message
      ensure
        WebSocket::Native.stop
      end
      message
    end
  end
end
