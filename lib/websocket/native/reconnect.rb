# frozen_string_literal: true

module WebSocket
  module Native
    # A :reconnect event: the attempt that comes next, after how long, and the failure behind it.
    class ReconnectEvent < Event
      # @return [Integer] 1 for the first attempt after a loss; counts on until a link stays up
      attr_reader :attempt
      # @return [Float] seconds until the attempt starts
      attr_reader :delay

      # @param attempt [Integer]
      # @param delay [Float]
      # @param error [Error] what ended the last link or attempt
      def initialize(attempt:, delay:, error:)
        super(:reconnect, message: error.message, error: error)
        @attempt = attempt
        @delay = delay
      end

      # @return [String]
      def inspect
        "#<#{self.class.name} reconnect attempt=#{@attempt} delay=#{@delay.round(3)} message=#{message.inspect}>"
      end
    end

    # The `reconnect:` behaviour of {Client}: after a link is lost or an attempt fails, and unless
    # the application closed, wait (see {ReconnectPolicy}) and dial again with the same settings.
    # Events: :close for an open link that was lost (ready_state is then CONNECTING, not CLOSED),
    # :reconnect before each attempt, :open for each new link; :error for each failure as always.
    module Reconnecting
      # @return [Boolean] true between a lost link (or failed attempt) and the next open
      def reconnecting?
        !@reconnect.nil? && @ready_state == Client::CONNECTING && @attempt.positive?
      end

      private

      # Turns reconnecting on; returns where send puts messages.
      def reconnect_with(policy, settings)
        @reconnect = policy
        @settings = settings
        @attempt = 0
        @outbox = Outbox.new(policy.queue_limit)
      end

      def link_opened
        @opened_at = Native.now
        @outbox.attach(@connection)
      end

      # Called with every close from the core. Returns nil when another attempt follows, else
      # the reason for the final close event.
      def reconnect_or_give_up(code, reason, clean)
        up_since = @opened_at
        @opened_at = nil
        @outbox.detach
        @pings.clear # pongs of the lost link will never come
        @attempt = 0 if up_since && Native.now - up_since >= @reconnect.reset_after
        @attempt += 1
        error = @last_error || ConnectionError.new("#{@url} closed the connection (code #{code}#{", #{reason}" unless reason.empty?})", step: :connection)
        @last_error = nil
        delay, why = schedule_attempt(error)
        return give_up(reason, why) unless delay

        emit(Event.new(:close, code: code, reason: reason, was_clean: clean)) if up_since
        emit(ReconnectEvent.new(attempt: @attempt, delay: delay, error: error))
        nil
      end

      # Under the state lock, so that `close` from another thread either cancels the timer or
      # finds the client closing.
      def schedule_attempt(error)
        Native.synchronize(@state_lock) do
          next [nil, nil] if @ready_state >= Client::CLOSING

          why = @reconnect.give_up_reason(@attempt, error)
          next [nil, why] if why

          @ready_state = Client::CONNECTING
          delay = @reconnect.delay(@attempt, error)
          @retry_timer = reactor.add_timer(delay) { redial }
          [delay, nil]
        end
      end

      # Reports what can no longer be sent; returns the final close reason.
      def give_up(reason, why)
        count, bytes = @outbox.discard
        if why
          failed(:connection, "#{@url}: no more reconnect attempts: #{why}; the last failure was: #{reason}")
          @inbox&.failed(@last_error) # the error WebSocket::Native.connect raises when no link ever opened
          reason = "#{reason}; #{why}"
        end
        return reason if count.zero?

        held = "#{count} message#{'s' if count > 1} (#{bytes} bytes) given to send while no link was open #{count > 1 ? 'were' : 'was'} not delivered"
        failed(:connection, "#{@url}: #{held}")
        "#{reason}; #{held}"
      end

      # The timer fired: dial again, unless the application closed meanwhile.
      def redial
        id = nil
        Native.synchronize(@state_lock) do
          next unless @retry_timer

          @retry_timer = nil
          id = reactor.register(self)
          @connection = Connection.open(id, @settings.to_native)
          @connection.start
        end
      rescue Error => e
        # The settings were fine before; a TLS file may have gone since. Count it as a failure.
        reactor.forget(id) if id
        failed(e.step, e.message)
        closed(1006, e.message, false)
      end

      # `close` while waiting for the next attempt (called with the state lock held).
      def cancel_reconnect
        @retry_timer.cancel
        @retry_timer = nil
        @ready_state = Client::CLOSING
        reactor.schedule { closed(1006, "closed by the application while waiting to reconnect", false) }
        true
      end
    end
  end
end
