# frozen_string_literal: true

module WebSocket
  module Native
    # Base class of every error this gem raises or reports. {#step} names where it happened:
    # :dns, :tcp, :proxy, :tls, :http, :websocket, :connection or :configuration.
    class Error < StandardError
      # @return [Symbol] the step that failed
      attr_reader :step

      # @param message [String] what went wrong, written for the person at the site box
      # @param step [Symbol] the step that failed
      def initialize(message = nil, step: nil)
        super(message)
        @step = step
      end
    end

    # A bad URL or option, raised from {Client#initialize} before any I/O.
    class ConfigurationError < Error
      def initialize(message = nil, step: :configuration)
        super
      end
    end

    # DNS lookup, TCP connect or HTTP proxy CONNECT failed.
    class ConnectError < Error; end

    # The TLS handshake failed (alert, untrusted or expired certificate, wrong name, no TLS).
    class TLSError < Error; end

    # The server's answer to the HTTP upgrade request was not a valid 101 Switching Protocols.
    class HandshakeError < Error; end

    # The server broke RFC 6455 (bad frame, invalid UTF-8, oversized message).
    class ProtocolError < Error; end

    # An open connection was lost: no close frame, a reset, or a close handshake that timed out.
    class ConnectionError < Error; end

    # Raised by the blocking calls ({Client#receive}, {Client#each_message}) once the connection
    # has closed and no message is left, and by {Native.connect} when it closes before it opened.
    class ConnectionClosed < Error
      # @return [Integer] the close code (1006 when the connection was lost)
      attr_reader :code
      # @return [String] the close reason; after a failure, the words of the :error event
      attr_reader :reason
      # @return [Error, nil] the failure behind the close (e.g. a ProtocolError), if there was one
      attr_reader :error

      # @param code [Integer]
      # @param reason [String]
      # @param was_clean [Boolean] true when the close handshake completed
      # @param url [String, nil] named in the message
      # @param error [Error, nil] the :error event's exception, when a failure ended the connection
      def initialize(code, reason, was_clean, url: nil, error: nil)
        @code = code
        @reason = reason
        @was_clean = was_clean
        @error = error
        where = url ? " to #{url}" : ""
        detail = reason.to_s.empty? ? "" : ": #{reason}"
        super("the connection#{where} is closed (code #{code}, #{was_clean ? 'clean' : 'not clean'})#{detail}",
              step: :connection)
      end

      # @return [Boolean] true when the close handshake completed
      def was_clean
        @was_clean
      end
      alias clean? was_clean
    end

    # {Client#send} was refused because `send_limit` bytes are already queued. Nothing was queued:
    # send it again after the client's `:drain` event (or once {Client#buffered_amount} fell).
    class BufferFullError < Error
      def initialize(message = nil, step: :send)
        super
      end
    end

    # Maps the step a failure happened in to the class that reports it.
    ERROR_CLASSES = {
      dns: ConnectError, tcp: ConnectError, proxy: ConnectError,
      tls: TLSError, http: HandshakeError,
      websocket: ProtocolError, connection: ConnectionError
    }.freeze

    # @param step [Symbol]
    # @param message [String]
    # @return [Error] the exception object for a failure reported by the native core
    def self.error_for(step, message)
      ERROR_CLASSES.fetch(step, Error).new(message, step: step)
    end
  end
end
