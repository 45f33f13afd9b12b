# frozen_string_literal: true

module WebSocket
  module Native
    # Where {Client#send} puts messages when reconnect is on: straight into the open connection,
    # or, while no link is open, into a queue (up to a byte limit) that the next link sends first,
    # in order. Safe from any thread.
    class Outbox
      # @param limit [Integer] bytes held at most; a message that does not fit is refused
      def initialize(limit)
        @limit = limit
        @held = []
        @held_bytes = 0
        @connection = nil
        @lock = Mutex.new
      end

      # Sends what is held on the connection, then forwards every message to it.
      # @param connection [Connection] a connection that just opened
      def attach(connection)
        Native.synchronize(@lock) do
          @held.each { |kind, payload| connection.__send__(kind, payload) }
          @held.clear
          @held_bytes = 0
          @connection = connection
        end
      end

      # Holds messages from now on (the link was lost).
      def detach
        Native.synchronize(@lock) { @connection = nil }
      end

      # @return [Boolean] false when refused: the queue is full
      def send_text(text)
        put(:send_text, text)
      end

      # @return [Boolean] false when refused: the queue is full
      def send_binary(data)
        put(:send_binary, data)
      end

      # @return [Integer] bytes held plus bytes the connection has not written yet
      def buffered_amount
        Native.synchronize(@lock) { @held_bytes + (@connection ? @connection.buffered_amount : 0) }
      end

      # Empties the queue (no link will come).
      # @return [Array(Integer, Integer)] the messages and bytes that were held
      def discard
        Native.synchronize(@lock) do
          held = [@held.size, @held_bytes]
          @held.clear
          @held_bytes = 0
          held
        end
      end

      private

      def put(kind, payload)
        Native.synchronize(@lock) do
          # A connection that refuses is finishing (the link was lost): the next link takes it.
          next true if @connection&.__send__(kind, payload)
          next false if @held_bytes + payload.bytesize > @limit

          @held << [kind, payload]
          @held_bytes += payload.bytesize
          true
        end
      end
    end
  end
end
