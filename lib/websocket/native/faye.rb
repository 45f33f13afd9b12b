# frozen_string_literal: true

# Drop-in for faye-websocket's client: replace `require "faye/websocket"` with
# `require "websocket/native/faye"`. With the real EventMachine loaded, callbacks run on its
# reactor; without it, websocket/native/eventmachine stands in for EM.

if defined?(Faye::WebSocket) && !defined?(Faye::WebSocket::NATIVE_DROP_IN)
  raise LoadError, "faye-websocket is already loaded, so websocket/native/faye cannot replace it. " \
                   "Replace every `require \"faye/websocket\"` with `require \"websocket/native/faye\"` " \
                   "instead of loading both (check Gemfile.require and other files that require it first)."
end

require "openssl"
require_relative "../native"
require_relative "eventmachine" unless defined?(EventMachine)
require_relative "faye/event_target"
# A later `require "faye/websocket"` (in a file not yet changed) finds this drop-in, not a second client.
$LOADED_FEATURES << "faye/websocket.rb" unless $LOADED_FEATURES.include?("faye/websocket.rb")

module Faye
  # Namespace of the drop-in, shaped like faye-websocket's (a class, as there).
  class WebSocket
    NATIVE_DROP_IN = true

    # faye raises it for a certificate it rejects; here TLS failures arrive as error events (a
    # WebSocket::Native::TLSError in `error`), but site code may name it in a rescue.
    SSLError = Class.new(OpenSSL::SSL::SSLError)

    # Starts EventMachine in a thread unless it runs, and waits until it does (as faye).
    # @return [void]
    def self.ensure_reactor_running
      Thread.new { EventMachine.run } unless EventMachine.reactor_running?
      Thread.pass until EventMachine.reactor_running?
    end

    # Constants, events and listener methods, as in Faye::WebSocket::API.
    module API
      CONNECTING = 0
      OPEN = 1
      CLOSING = 2
      CLOSED = 3
      CLOSE_TIMEOUT = 30

      # Base event: `type` is a String ("open", "message", "error", "close"), as in faye.
      class Event
        CAPTURING_PHASE = 1
        AT_TARGET = 2
        BUBBLING_PHASE = 3

        attr_reader :type, :bubbles, :cancelable
        attr_accessor :target, :current_target, :event_phase

        # @return [Event] an instance of the class for `type`
        def self.create(type, options = {})
          TYPES.fetch(type.to_s, Event).new(type.to_s, options)
        end

        def initialize(event_type, options = {})
          @type = event_type.to_s
          options.each { |key, value| instance_variable_set(:"@#{key}", value) }
          @bubbles = false
          @cancelable = false
        end

        def init_event(event_type, can_bubble, cancelable)
          @type = event_type.to_s
          @bubbles = can_bubble
          @cancelable = cancelable
        end

        def stop_propagation; end
        def prevent_default; end
      end

      class OpenEvent < Event; end

      # `data`: a String for text; binary as an Array of bytes, or a BINARY String with
      # binary_data_format: :string.
      class MessageEvent < Event
        attr_reader :data
      end

      # `code` and `reason` as faye reports them; `was_clean` is ours.
      class CloseEvent < Event
        attr_reader :code, :reason, :was_clean
      end

      # `message` is always a String here (faye sometimes gave an exception class); `error` is
      # the WebSocket::Native::Error behind it.
      class ErrorEvent < Event
        attr_reader :message, :error
      end

      # With `reconnect:` only: `attempt` (1, 2, ...), `delay` in seconds, and the failure behind
      # it as `message` and `error`.
      class ReconnectEvent < Event
        attr_reader :attempt, :delay, :message, :error
      end

      TYPES = { "open" => OpenEvent, "message" => MessageEvent, "close" => CloseEvent, "error" => ErrorEvent }.freeze

      include EventTarget
    end

    include API

    # Response headers, read case- and underscore-insensitively as websocket-driver's are.
    class Headers < Hash
      def self.key_for(name)
        name.to_s.downcase.tr("_", "-")
      end

      def [](name)
        super(Headers.key_for(name))
      end

      def key?(name)
        super(Headers.key_for(name))
      end

      def to_h
        {}.merge(self)
      end
    end
  end
end

require_relative "faye/delivery"
require_relative "faye/options"
require_relative "faye/client"
require_relative "faye/server"
