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

      # Starts connecting at once; every outcome arrives as an event.
      #
      # @param url [String] ws:// or wss:// URL
      # @param protocols [String, Array<String>, nil] subprotocols to offer
      # @param options [Hash]
      # @option options [Hash] :headers extra request headers
      # @option options [Hash] :tls root_cert_file (path or list), verify_peer (default true),
      #   sni_hostname, cert_chain_file, private_key_file
      # @option options [Numeric] :connect_timeout seconds for DNS, TCP, proxy, TLS and the upgrade (10)
      # @option options [Numeric] :close_timeout seconds to wait for the close handshake (10)
      # @option options [Numeric] :ping send a ping every this many seconds (off)
      # @option options [Integer] :max_length largest message accepted, in bytes (2**26 - 1)
      # @option options [String, Hash] :proxy an http:// proxy URL, or { origin:, headers: }
      # @option options [Logger, false] :logger logs each connection step (default
      #   WebSocket::Native.logger; false for none)
      # @yieldparam client [Client] runs before connecting: attach listeners here to be sure
      # @raise [ConfigurationError] for a bad URL or option, before any I/O
      def initialize(url, protocols = nil, **options)
        settings = Options.new(url, protocols, options)
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
      def send(data)
        return false if @ready_state >= CLOSING

        case data
        when String
          data.encoding == Encoding::BINARY ? @connection.send_binary(data) : @connection.send_text(utf8(data))
        when Array
          @connection.send_binary(bytes(data))
        else
          raise ArgumentError, "send takes a String (text; binary when its encoding is BINARY) or an Array of bytes, not #{data.class}"
        end
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
      # @return [Boolean] false when already closing or closed
      def close(code = nil, reason = nil)
        code ||= 1000
        reason = reason.to_s
        unless code.is_a?(Integer) && (code == 1000 || (3000..4999).cover?(code))
          raise ArgumentError, "close code must be 1000 or 3000..4999, not #{code.inspect}"
        end
        reason = utf8(reason)
        raise ArgumentError, "close reason is at most 123 bytes, not #{reason.bytesize}" if reason.bytesize > 123

        Native.synchronize(@state_lock) do
          next false if @ready_state >= CLOSING || !@connection.close(code, reason)

          @ready_state = CLOSING
          true
        end
      end

      # @return [Integer] bytes given to {#send} and not yet written to the socket
      def buffered_amount
        @connection.buffered_amount
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
      def receive(kind, args)
        case kind
        when Reactor::OPEN then opened(*args)
        when Reactor::TEXT, Reactor::BINARY then emit(Event.new(:message, data: args[0]))
        when Reactor::PONG then @pings.delete(args[0])&.call
        when Reactor::ERROR then failed(args[0].to_sym, args[1])
        when Reactor::CLOSE then closed(*args)
        when Reactor::TRACE then @log&.step(*args)
        end
      end

      def opened(protocol, status, header_pairs)
        @protocol = protocol
        @status = status
        @headers = header_pairs.to_h { |k, v| [k.downcase, v] }
        @log&.opened(status, protocol)
        opened = @state_lock.synchronize { @ready_state == CONNECTING && (@ready_state = OPEN) }
        emit(Event.new(:open)) if opened
      end

      def failed(step, message)
        @log&.failed(step, message)
        emit(Event.new(:error, message: message, error: Native.error_for(step, message)))
      end

      def closed(code, reason, clean)
        @state_lock.synchronize { @ready_state = CLOSED }
        @pings.clear
        @log&.closed(code, reason, clean)
        emit(Event.new(:close, code: code, reason: reason, was_clean: clean))
      end

      def inherited_by_fork
        closed(1006, "connection belongs to the parent process", false)
      end
    end
  end
end
