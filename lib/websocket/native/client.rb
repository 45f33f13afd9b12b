# frozen_string_literal: true

module WebSocket
  module Native
    # A WebSocket client connection. Callbacks run on the reactor thread (see {Native.run}).
    #
    # @example
    #   ws = WebSocket::Native::Client.new("wss://app.example.com/socket", ["chat"])
    #   ws.on(:message) { |e| puts e.data }
    class Client
      include Listeners
      include Blocking
      include Reconnecting

      CONNECTING = 0
      OPEN = 1
      CLOSING = 2
      CLOSED = 3

      # @return [String] the URL given to {#initialize}
      attr_reader :url
      # @return [Integer] CONNECTING, OPEN, CLOSING or CLOSED
      attr_reader :ready_state
      # @return [String, nil] the subprotocol the server chose ("" for none), once open
      attr_reader :protocol
      # @return [Integer, nil] the HTTP status of the upgrade reply (101), once open
      attr_reader :status
      # @return [Hash{String => String}] the upgrade reply's headers, names in lower case
      attr_reader :headers
      # @api private
      # How a wrapper that delivers callbacks later (the faye layer under the real EventMachine)
      # runs a block behind what it is still delivering; see #answer_failing.
      attr_writer :barrier_delivery

      # Starts connecting at once; every outcome arrives as an event.
      #
      # @param url [String] ws:// or wss:// URL
      # @param protocols [String, Array<String>, nil] subprotocols to offer
      # @param options [Hash]
      # @option options [Hash] :headers extra request headers
      # @option options [Hash] :tls ca_file (trust only these) or extra_ca_file (add to the system
      #   roots), each a path or list; verify_peer (default true),
      #   sni_hostname, cert_chain_file, private_key_file
      # @option options [Numeric] :connect_timeout seconds for DNS, TCP, proxy, TLS and the upgrade (10)
      # @option options [Numeric] :close_timeout seconds to wait for the close handshake (10)
      # @option options [Numeric] :ping send a ping every this many seconds (off)
      # @option options [Numeric, false] :pong_timeout drop the link (close 1006) when nothing
      #   arrives this many seconds after a ping; defaults to the ping interval, false for never
      # @option options [Integer] :max_length largest message accepted, in bytes (2**26 - 1)
      # @option options [String, Hash] :proxy an http:// or https:// proxy URL, or { origin:, headers:, tls: }
      # @option options [Logger, false] :logger logs each connection step (default
      #   WebSocket::Native.logger; false for none)
      # @param reconnect [Boolean, Hash] dial again after a lost link or failed attempt: true, or
      #   { initial:, max:, attempts:, reset_after:, queue_limit:, refused: } (see {ReconnectPolicy})
      # @option options [Integer] :send_limit most bytes {#send} may have queued (8 MiB); over it
      #   send raises {BufferFullError} and a `:drain` event follows once half of it is written
      # @yieldparam client [Client] runs before connecting: attach listeners here to be sure
      # @raise [ConfigurationError] for a bad URL or option, before any I/O
      def initialize(url, protocols = nil, reconnect: nil, **options)
        settings = Options.new(url, protocols, options)
        policy = ReconnectPolicy.from_option(reconnect)
        listener_lock
        @url = url
        @ready_state = CONNECTING
        @headers = {}
        @pings = {}
        # ready_state changes from `close` (any thread) and from events (the reactor) one at a time.
        @state_lock = Mutex.new
        Native.warn_once(:verify_peer, "websocket-native: tls verify_peer is false for #{url}; " \
                                       "the server's certificate is not checked") unless settings.verify_peer?
        @id = reactor.register(self)
        @log = settings.logger && Logging::Connection.new(settings.logger, @id, url)
        @log&.insecure unless settings.verify_peer?
        begin
          @connection = Connection.open(@id, settings.to_native)
          # Where send puts messages: with reconnect, an Outbox that holds them while no link is open.
          @outlet = policy ? reconnect_with(policy, settings) : @connection
          yield self if block_given?
        rescue Exception # rubocop:disable Lint/RescueException
          reactor.forget(@id)
          raise
        end
        @connection.start
      end

      # Sends a message: a String with BINARY (ASCII-8BIT) encoding as a binary frame, any other
      # String as text (converted to UTF-8), an Array of bytes as binary. Before open, messages are
      # queued and sent in order on open.
      #
      # @param data [String, Array<Integer>]
      # @return [Boolean] true if accepted, false once closing or closed
      # @raise [ArgumentError] for data that is neither, or text that is not valid in its encoding
      # @raise [BufferFullError] when `send_limit` bytes are queued already (a message is always
      #   taken when nothing is queued); nothing was queued, wait for `:drain` and send again
      def send(data)
        return false if @ready_state >= CLOSING

        payload = data
        queued = if data.is_a?(String)
                   encoding = data.encoding
                   if encoding == Encoding::UTF_8 || encoding == Encoding::US_ASCII
                     @outlet.send_text(data)
                   elsif encoding == Encoding::BINARY
                     @outlet.send_binary(data)
                   else
                     @outlet.send_text(payload = utf8(data))
                   end
                 elsif data.is_a?(Array)
                   @outlet.send_binary(payload = bytes(data))
                 else
                   raise ArgumentError, "send takes a String (text; binary when its encoding is BINARY) or an Array of bytes, not #{data.class}"
                 end
        return queued unless queued.nil?

        raise BufferFullError, "send refused: #{buffered_amount} bytes are still queued for #{@url} and " \
                               "this message (#{payload.bytesize} bytes) would pass send_limit " \
                               "(#{@connection.send_limit} bytes); nothing was queued, send it again " \
                               "after the :drain event"
      end

      # Sends a ping (queued until open while connecting); the block runs when the matching pong
      # arrives.
      # @param payload [String] at most 125 bytes
      # @return [Boolean] false once closing or closed
      def ping(payload = "", &block)
        payload = payload.to_s.b
        raise ArgumentError, "a ping payload is at most 125 bytes, not #{payload.bytesize}" if payload.bytesize > 125
        return false if @ready_state >= CLOSING

        @pings[payload] = block if block
        @connection.ping(payload)
      end

      # Starts the close handshake after every queued message has been sent.
      # @param code [Integer] 1000 or 3000..4999
      # @param reason [String] at most 123 bytes of UTF-8
      # @param wait [Boolean, nil] wait for the close event (the handshake, bounded by
      #   close_timeout); nil: only for a client from {Native.connect}, off the reactor thread
      # @return [Boolean] false when already closing or closed
      def close(code = nil, reason = nil, wait: nil)
        code ||= 1000
        reason = reason.to_s
        unless code.is_a?(Integer) && (code == 1000 || (3000..4999).cover?(code))
          raise ArgumentError, "close code must be 1000 or 3000..4999, not #{code.inspect}"
        end
        reason = utf8(reason)
        raise ArgumentError, "close reason is at most 123 bytes, not #{reason.bytesize}" if reason.bytesize > 123

        waits = close_waits?(wait)
        started = Native.synchronize(@state_lock) do
          next false if @ready_state >= CLOSING
          next cancel_reconnect if @retry_timer
          # With reconnect, a link that just died refuses; its close event is on the way and,
          # finding CLOSING, will be the last.
          next false unless @connection.close(code, reason) || @reconnect

          @ready_state = CLOSING
          true
        end
        @inbox&.stop_holding # the close reply comes behind unread messages
        await_close(wait == true) if waits
        started
      end

      # @return [Integer] bytes given to {#send} and not yet written to the socket
      def buffered_amount
        @outlet.buffered_amount
      end

      # @return [String]
      def inspect
        "#<#{self.class.name} #{@url} #{%w[CONNECTING OPEN CLOSING CLOSED][@ready_state]}>"
      end

      private

      def reactor
        Reactor.instance
      end

      def utf8(text)
        return text if text.encoding == Encoding::UTF_8 || text.encoding == Encoding::US_ASCII

        text.encode(Encoding::UTF_8)
      rescue EncodingError => e
        raise ArgumentError, "text cannot be sent as UTF-8: #{e.message}"
      end

      def bytes(list)
        unless list.all? { |b| b.is_a?(Integer) && b.between?(0, 255) }
          raise ArgumentError, "an Array given to send must hold bytes (Integers 0..255)"
        end

        list.pack("C*")
      end

      # Called on the reactor thread with an event from the native core.
      def handle_event(kind, first, second, third)
        case kind
        when Reactor::TEXT, Reactor::BINARY then @inbox&.keep(first) || emit(Event.message(first))
        when Reactor::OPEN then opened(first, second, third)
        when Reactor::PONG then @pings.delete(first)&.call
        # Not kept without a listener: it reports a state that buffered_amount also shows.
        when Reactor::DRAIN then emit(Event.new(:drain)) if targets_for(:drain)
        when Reactor::ERROR then failed(first.to_sym, second)
        when Reactor::CLOSE then closed(first, second, third)
        when Reactor::TRACE then @log&.step(first, second)
        when Reactor::FAILING then answer_failing
        end
      end

      # The server broke the protocol after messages that are delivered by now, or kept for a
      # later flush, or handed to a wrapper that delivers later: the barrier goes behind them,
      # so the replies their callbacks send are written before the close frame.
      def answer_failing
        connection = @connection
        barrier = -> { connection.barrier }
        if @barrier_delivery then @barrier_delivery.call(&barrier)
        elsif @kept_events && !@kept_events.empty? then reactor.schedule(&barrier)
        else barrier.call
        end
      end

      def opened(protocol, status, headers)
        @protocol = protocol
        @status = status
        @headers = headers
        @log&.opened(status, protocol)
        opened = @state_lock.synchronize { @ready_state == CONNECTING && (@ready_state = OPEN) }
        return unless opened

        @inbox&.opened
        link_opened if @reconnect
        emit(Event.new(:open))
      end

      def failed(step, message)
        @last_error = Native.error_for(step, message)
        @log&.failed(step, message)
        @inbox&.failed(@last_error) unless @reconnect
        emit(Event.new(:error, message: message, error: @last_error))
      end

      def closed(code, reason, clean)
        reason = reconnect_or_give_up(code, reason, clean) if @reconnect
        return unless reason # another attempt follows

        # Read under the lock: close(wait: true) adds an inbox only while not yet CLOSED.
        inbox = @state_lock.synchronize do
          @ready_state = CLOSED
          @inbox
        end
        inbox&.closed(code, reason, clean)
        @pings.clear
        @log&.closed(code, reason, clean)
        emit(Event.new(:close, code: code, reason: reason, was_clean: clean))
      end

      def inherited_by_fork
        @reconnect = nil # the parent's link: this process must not dial a second one
        closed(1006, "connection belongs to the parent process", false)
      end
    end
  end
end
