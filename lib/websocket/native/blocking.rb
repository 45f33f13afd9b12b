# frozen_string_literal: true

module WebSocket
  module Native
    # The blocking calls of a {Client}, for plain scripts, specs and fibers: {#receive},
    # {#each_message} and the wait of {Client#close}. One client, one mode for messages: a client
    # from {Native.connect} keeps them for {#receive} and refuses :message listeners; a client from
    # Client.new gives them to listeners and refuses {#receive}. :open, :error and :close events
    # reach listeners in both modes.
    module Blocking
      # Close codes after which {#each_message} ends quietly: normal, going away, no code given.
      NORMAL_CLOSE = [1000, 1001, 1005].freeze

      # Raises when called on the reactor thread, which is the thread that delivers what the
      # caller would wait for.
      # @param call [String] named in the message
      # @raise [Error]
      def self.refuse_on_reactor_thread(call)
        return unless Reactor.instance.reactor_thread?

        raise Error, "#{call} cannot wait on the reactor thread (inside a callback or WebSocket::Native.run): " \
                     "that thread delivers what it would wait for; call it from another thread or fiber"
      end

      # @return [Boolean] true for a client from {Native.connect}: its messages go to {#receive}
      def blocking?
        @inbox ? @inbox.keeps_messages? : false
      end

      # Adds a listener, as {Listeners#on}; :message is refused on a client from {Native.connect}.
      # @raise [Error] for :message on a client from connect
      def on(type, &block)
        refuse_message_listener if type.to_s == "message"
        super
      end

      # Sets the on-message handler, as {Listeners}; refused on a client from {Native.connect}.
      # @raise [Error] on a client from connect
      def onmessage=(handler)
        refuse_message_listener if handler
        super
      end

      # Waits for the next message.
      # @param timeout [Numeric, nil] seconds; nil waits until a message or the close
      # @return [String, nil] UTF-8 for text, BINARY for binary; nil when the timeout passed first
      # @raise [ConnectionClosed] once the connection has closed and no message is left
      # @raise [Error] on a client from Client.new, or on the reactor thread
      def receive(timeout: nil)
        deadline = deadline_after(timeout)
        message_inbox("receive").pop(deadline)
      end

      # Yields every message until the close. Ends after a normal close (clean, code 1000, 1001
      # or none); raises {ConnectionClosed} after any other, e.g. a lost connection (1006).
      # @yieldparam data [String]
      # @return [self, Enumerator] an Enumerator without a block
      def each_message
        return enum_for(:each_message) unless block_given?

        loop do
          data = begin
            receive
          rescue ConnectionClosed => e
            raise unless e.clean? && NORMAL_CLOSE.include?(e.code)

            return self
          end
          yield data
        end
      end

      private

      # Runs in Native.connect's block for Client.new, before the connection starts.
      def keep_messages
        @inbox = Inbox.new(@url, keep_messages: true, budget: @connection)
      end

      def await_open
        @inbox.wait_open
      end

      def refuse_message_listener
        return unless blocking?

        raise Error, "a client from WebSocket::Native.connect hands its messages to receive and each_message, " \
                     "not to on(:message); create it with Client.new to use callbacks"
      end

      def message_inbox(call)
        unless blocking?
          raise Error, "#{call} needs a client from WebSocket::Native.connect; " \
                       "a client from Client.new delivers its messages to on(:message)"
        end
        Blocking.refuse_on_reactor_thread(call)
        @inbox
      end

      def deadline_after(timeout)
        return nil if timeout.nil?
        unless timeout.is_a?(Numeric) && timeout >= 0
          raise ArgumentError, "timeout must be nil or a number of seconds >= 0, not #{timeout.inspect}"
        end
        return nil if timeout.to_f.infinite?

        Native.now + timeout
      end

      # Whether close waits for the close event, decided (and checked) before it starts: when
      # `wait` is true, and by default (nil) for a client from connect off the reactor thread.
      def close_waits?(wait)
        raise ArgumentError, "wait: must be true, false or nil, not #{wait.inspect}" unless [true, false, nil].include?(wait)
        return blocking? && !reactor.reactor_thread? if wait.nil?

        Blocking.refuse_on_reactor_thread("close(wait: true)") if wait
        wait
      end

      # @param explicit [Boolean] wait: true was given (inside a signal trap that raises)
      def await_close(explicit)
        close_inbox(explicit: explicit)&.wait_closed
      end

      # The inbox the close event will reach, nil when it already came (or inside a trap).
      def close_inbox(explicit:)
        Native.synchronize(@state_lock) do |locked|
          raise Error, "close was started but cannot be waited for inside a signal trap" if !locked && explicit
          next nil if !locked || @ready_state == Client::CLOSED

          @inbox ||= Inbox.new(@url, keep_messages: false)
        end
      end
    end

    # Connects and waits until the connection is open; the client's messages then go to
    # {Blocking#receive} / {Blocking#each_message}, and {Client#close} waits for the close
    # handshake by default. Under a fiber scheduler only the calling fiber waits.
    #
    # @example
    #   WebSocket::Native.connect("wss://app.example.com/socket") do |ws|
    #     ws.send("hello")
    #     puts ws.receive(timeout: 5)
    #   end
    #
    # @param (see Client#initialize)
    # @yieldparam client [Client] the open client; closed with 1000 when the block exits
    # @return [Client, Object] the open client, or the block's value
    # @raise [ConfigurationError] for a bad URL or option, before any I/O
    # @raise [ConnectError, TLSError, HandshakeError, Error] the failure, in the words of the :error event
    def self.connect(url, protocols = nil, **options)
      Blocking.refuse_on_reactor_thread("WebSocket::Native.connect")
      client = Client.new(url, protocols, **options) { |c| c.__send__(:keep_messages) }
      opened = false
      begin
        client.__send__(:await_open)
        opened = true
      ensure
        # Also when interrupted (Timeout throws past `rescue`): do not leave it connecting.
        client.close(wait: false) unless opened
      end
      return client unless block_given?

      begin
        yield client
      ensure
        client.close(1000, "")
      end
    end
  end
end
