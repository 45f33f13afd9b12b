# frozen_string_literal: true

module Faye
  class WebSocket
    # faye-websocket's client, backed by WebSocket::Native::Client. See the README's list of
    # deliberate differences (messages, SNI for IP literals, timeouts, masked frames).
    class Client
      include API

      CLOSE_ERROR = "Failed to execute 'close' on WebSocket: The code must be either 1000, or between 3000 and 4999."
      DEFAULT_PORTS = { "http" => 80, "https" => 443, "ws" => 80, "wss" => 443 }.freeze
      SECURE_PROTOCOLS = %w[https wss].freeze

      @open = {}
      @open_lock = Mutex.new
      @hook_pending = false

      class << self
        # Clients not yet closed, so that EM.stop can close them as EventMachine does.
        # @api private
        def track(client, open)
          @open_lock.synchronize do
            open ? @open[client.object_id] = client : @open.delete(client.object_id)
            install_stop_hook if open
          end
        end

        private

        def install_stop_hook
          return if @hook_pending || !EventMachine.reactor_running?

          @hook_pending = true
          EventMachine.add_shutdown_hook do
            clients = @open_lock.synchronize do
              @hook_pending = false
              @open.values
            end
            clients.each { |c| c.__send__(:reactor_stopped) }
          end
        end
      end

      # @return [String] the URL as given
      attr_reader :url
      # @return [Integer] CONNECTING, OPEN, CLOSING or CLOSED
      attr_reader :ready_state
      # @return [String] the chosen subprotocol, "" for none
      attr_reader :protocol
      # @return [Headers] the upgrade reply's headers
      attr_reader :headers
      # @return [Integer, nil] the upgrade reply's status
      attr_reader :status

      # Never raises for a bad URL or option, as faye: an :error event and a close (1006) follow.
      # @param url [String] ws:// or wss:// URL
      # @param protocols [String, Array<String>, nil] subprotocols, also "a, b"
      # @param options [Hash] headers, extensions, max_length, ping, proxy, tls; ours:
      #   pong_timeout, connect_timeout, close_timeout, binary_data_format, binary_strings
      def initialize(url, protocols = nil, options = {})
        @url = url
        @ready_state = CONNECTING
        @protocol = ""
        @headers = Headers.new
        @status = nil
        protocols = protocols.split(/\s*,\s*/) if protocols.is_a?(String)
        settings = NativeOptions.new(options)
        @binary_data_format = settings.binary_data_format
        @binary_strings = settings.binary_strings
        @native = ::WebSocket::Native::Client.new(url, protocols, **settings.to_native) { |n| wire(n) }
        self.class.track(self, true)
      rescue ::WebSocket::Native::ConfigurationError => e
        @ready_state = CLOSED
        deliver do
          dispatch_event(Event.create("error", message: e.message, error: e))
          dispatch_event(Event.create("close", code: 1006, reason: e.message, was_clean: false))
        end
      end

      # @return [String] "hybi-13"
      def version
        "hybi-13"
      end

      # @return [Integer] bytes given to {#send} and not yet written
      def buffered_amount
        @native ? @native.buffered_amount : 0
      end

      # As faye 0.11: a String goes as text whatever its encoding (BINARY too, unless
      # binary_strings: true), an Array of bytes as binary, a Numeric as its text; anything else
      # returns false.
      # @return [Boolean]
      # @raise [ArgumentError] for a String whose bytes are not valid UTF-8 (faye sent an invalid frame)
      def send(message)
        return false if @ready_state > OPEN

        case message
        when Numeric then @native.send(message.to_s)
        when String then @native.send(@binary_strings ? message : text(message))
        when Array then @native.send(message.pack("C*").b)
        else false
        end
      end

      # @return [Boolean] false once closing or closed
      def ping(message = "", &callback)
        return false if @ready_state > OPEN

        # The pong callback runs where (and in order with) the events run.
        @native.ping(message.to_s) { deliver(&callback) if callback }
      end

      # faye's hook for raw bytes under the WebSocket framing; this client owns its socket.
      # @raise [NotImplementedError]
      def write(_data)
        raise NotImplementedError, "Faye::WebSocket::Client#write writes raw bytes to the socket (websocket-driver's " \
                                   "hook); websocket-native frames and writes itself: use #send for messages"
      end

      # @param code [Integer] 1000 or 3000..4999
      # @param reason [String]
      # @return [Boolean] false when already closing or closed
      # @raise [ArgumentError] with faye's message for any other code
      def close(code = nil, reason = nil)
        code ||= 1000
        reason ||= ""
        raise ArgumentError, "#{CLOSE_ERROR} #{code} is neither." unless code == 1000 || (code >= 3000 && code <= 4999)
        return false if @ready_state >= CLOSING || @native.nil?

        # The native close checks the reason first; only an accepted close changes the state.
        closing = @native.close(code.to_i, reason)
        @ready_state = CLOSING if closing
        closing
      end

      # @return [String]
      def inspect
        "#<#{self.class.name} #{@url} ready_state=#{@ready_state}>"
      end

      private

      def reactor
        ::WebSocket::Native::Reactor.instance
      end

      def wire(native)
        native.barrier_delivery = Delivery.method(:call)
        native.on(:open) { @failure = nil; deliver { opened(native) } }
        native.on(:message) { |e| deliver { message(e.data) } }
        native.on(:error) { |e| @failure = e.error; deliver { failed(e) } }
        native.on(:close) do |e|
          # With reconnect:, a lost link leaves the native client CONNECTING: another link follows.
          again = native.ready_state == ::WebSocket::Native::Client::CONNECTING
          deliver { again ? lost(e) : finalize(e.code, e.reason, e.was_clean) }
        end
        native.on(:reconnect) do |e|
          deliver { dispatch_event(ReconnectEvent.new("reconnect", attempt: e.attempt, delay: e.delay, message: e.message, error: e.error)) }
        end
      end

      # With the real EventMachine running, callbacks belong on its reactor thread.
      def deliver(&block)
        Delivery.call(&block)
      end

      # faye sends a String's bytes as text; a BINARY String is read as UTF-8.
      def text(message)
        return message unless message.encoding == Encoding::BINARY

        utf8 = message.dup.force_encoding(Encoding::UTF_8)
        return utf8 if utf8.valid_encoding?

        raise ArgumentError, "send: this BINARY String is not valid UTF-8, and the faye drop-in sends Strings as " \
                             "text as faye-websocket 0.11 does; send message.bytes for a binary frame, or pass " \
                             "binary_strings: true to send BINARY Strings as binary"
      end

      def opened(native)
        return unless @ready_state == CONNECTING

        @protocol = native.protocol.to_s
        @status = native.status
        @headers = Headers.new.merge!(native.headers)
        @ready_state = OPEN
        dispatch_event(Event.create("open"))
      end

      def message(data)
        return unless @ready_state == OPEN # faye drops messages that arrive while closing

        data = data.bytes if data.encoding == Encoding::BINARY && @binary_data_format == :array
        dispatch_event(Event.create("message", data: data))
      end

      # faye reports no error event for a link lost after open (only the close, 1006), and none
      # once closing.
      def failed(event)
        return if event.error.is_a?(::WebSocket::Native::ConnectionError) || @ready_state >= CLOSING

        dispatch_event(Event.create("error", message: event.message, error: event.error))
      end

      def finalize(code, reason, clean)
        return if @ready_state == CLOSED

        # faye closes a failed HTTP upgrade with 1002 and the reason.
        code = 1002 if @failure.is_a?(::WebSocket::Native::HandshakeError)
        @ready_state = CLOSED
        self.class.track(self, false)
        dispatch_event(Event.create("close", code: code, reason: reason, was_clean: clean))
      end

      # A link lost with reconnect: on: its close event, then CONNECTING until the next open.
      def lost(event)
        return if @ready_state == CLOSED

        @failure = nil
        @ready_state = CONNECTING
        dispatch_event(Event.create("close", code: event.code, reason: event.reason, was_clean: event.was_clean))
      end

      # EM.stop with this client still open: close it as EventMachine does, with 1006.
      def reactor_stopped
        return if @ready_state == CLOSED

        @native&.close
        finalize(1006, "the reactor stopped (EM.stop) before the connection closed", false)
      end
    end
  end
end
