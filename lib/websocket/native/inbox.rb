# frozen_string_literal: true

module WebSocket
  module Native
    # What the blocking calls wait on: a client's open, failure and close, and (for a client from
    # {Native.connect}) its messages, kept for {Client#receive}. Filled on the reactor thread,
    # read from any thread. Waits use ConditionVariable#wait, which on Ruby 3.1 hands a fiber under
    # a fiber scheduler to the scheduler (timeouts included), so only that fiber is suspended.
    class Inbox
      # @param url [String] named in {ConnectionClosed}
      # @param keep_messages [Boolean] false for an inbox that only tracks the close
      # @param budget [Connection, nil] counts kept bytes (#hold, #release), so the connection
      #   stops reading while unread messages pile up
      def initialize(url, keep_messages:, budget: nil)
        @url = url
        @keep_messages = keep_messages
        @budget = budget
        @lock = Mutex.new
        @changed = ConditionVariable.new
        @messages = []
        @open = false
        @error = nil
        @closed = nil
      end

      # @return [Boolean] true for a client from {Native.connect}, whose messages go to {#pop}
      def keeps_messages?
        @keep_messages
      end

      # Keeps a message for {#pop}; reactor side.
      # @return [Boolean] true when kept (the client then emits no :message event)
      def keep(data)
        return false unless @keep_messages

        change do
          @budget&.hold(data.bytesize)
          @messages << data
        end
        true
      end

      # Gives back the budget of every unread message and holds no more: after a close the
      # connection must read on to get the server's close frame.
      # @return [void]
      def stop_holding
        Native.synchronize(@lock) do |locked|
          # Inside a signal trap (close is allowed there) the reactor thread does it.
          next Reactor.instance.schedule { stop_holding } unless locked

          @budget&.release(@messages.sum(&:bytesize))
          @budget = nil
        end
      end

      # @return [void]
      def opened
        change { @open = true }
      end

      # Remembers the failure that ended the connection, for {#wait_open} and {ConnectionClosed#error}.
      # @param error [Error]
      def failed(error)
        change { @error ||= error }
      end

      # @return [void]
      def closed(code, reason, clean)
        change { @closed = ConnectionClosed.new(code, reason, clean, url: @url, error: @error) }
      end

      # Waits until the connection is open.
      # @raise [Error] the failure reported by the :error event, or {ConnectionClosed}
      def wait_open
        @lock.synchronize do
          wait_until(nil) { @open || @error || @closed }
          return if @open

          raise @error || @closed
        end
      end

      # @param deadline [Float, nil] on {Native.now}'s clock; nil waits for ever
      # @return [String, nil] the next message, nil when the deadline passed first
      # @raise [ConnectionClosed] once closed and no message is left
      def pop(deadline)
        @lock.synchronize do
          return nil unless wait_until(deadline) { !@messages.empty? || @closed }
          raise @closed if @messages.empty?

          data = @messages.shift
          @budget&.release(data.bytesize)
          data
        end
      end

      # Waits for the close event.
      # @return [ConnectionClosed] how it closed
      def wait_closed
        @lock.synchronize { wait_until(nil) { @closed } }
      end

      private

      def change
        @lock.synchronize do
          yield
          @changed.broadcast
        end
      end

      # With the lock held: the block's first truthy value, or nil once the deadline has passed.
      def wait_until(deadline)
        loop do
          result = yield
          return result if result

          remaining = deadline && (deadline - Native.now)
          return nil if remaining && remaining <= 0

          @changed.wait(@lock, remaining)
        end
      end
    end
  end
end
