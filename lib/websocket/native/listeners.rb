# frozen_string_literal: true

module WebSocket
  module Native
    # on / off / onopen= for a client. An event that arrives while its type has no listener is
    # kept and delivered, in order, once a listener for that type is attached (as faye does), so
    # listeners attached on the lines after `new` never miss an event. While kept events of a type
    # are being delivered, newer ones of that type queue behind them.
    module Listeners
      # Adds a listener for an event type; safe from any thread.
      # @param type [Symbol, String] :open, :message, :error, :close
      # @yieldparam event [Event]
      # @return [self]
      def on(type, &block)
        raise ArgumentError, "on(#{type.inspect}) needs a block" unless block

        type = type.to_sym
        flush = listener_lock.synchronize do
          listeners_for(type) << block
          claim_flush(type)
        end
        schedule_flush(type) if flush
        self
      end

      # Removes one listener (or all listeners of a type when no block is given).
      # @return [self]
      def off(type, &block)
        listener_lock.synchronize do
          list = listeners_for(type.to_sym)
          block ? list.delete(block) : list.clear
        end
        self
      end

      %i[open message error close].each do |type|
        # Sets the one `on<type>` handler; it runs before listeners added with {#on}.
        define_method(:"on#{type}=") do |handler|
          flush = listener_lock.synchronize do
            setter_slots[type] = handler
            handler && claim_flush(type)
          end
          schedule_flush(type) if flush
        end

        define_method(:"on#{type}") { setter_slots[type] }
      end

      private

      def listener_lock
        @listener_lock ||= Mutex.new
      end

      def listener_table
        @listener_table ||= Hash.new { |h, k| h[k] = [] }
      end

      def listeners_for(type)
        listener_table[type]
      end

      def setter_slots
        @setter_slots ||= {}
      end

      def kept_events
        @kept_events ||= {}
      end

      def flushing
        @flushing ||= {}
      end

      # The `on<type>` handler first, then listeners; nil when there is none. Called locked.
      def targets_for(type)
        list = [setter_slots[type], *listeners_for(type)].compact
        list.empty? ? nil : list
      end

      # Calls the listeners of the event's type, or keeps the event (also while kept events of
      # its type are still being delivered, so the order holds).
      def emit(event)
        type = event.type.to_sym
        targets = listener_lock.synchronize do
          kept = kept_events[type]
          if kept || targets_for(type).nil?
            (kept_events[type] ||= []) << event
            nil
          else
            targets_for(type)
          end
        end
        targets&.each { |l| l.call(event) }
      end

      # True (and marked) when kept events of `type` need a flush that is not yet scheduled.
      def claim_flush(type)
        return false unless kept_events[type] && !flushing[type]

        flushing[type] = true
      end

      def schedule_flush(type)
        reactor.schedule { flush_kept(type) }
      end

      # Delivers kept events one at a time on the reactor thread. If a listener raises, the rest
      # stay kept and another flush is scheduled.
      def flush_kept(type)
        loop do
          event, targets = listener_lock.synchronize do
            kept = kept_events[type]
            targets = targets_for(type)
            if kept.nil? || kept.empty? || targets.nil?
              kept_events.delete(type) if kept&.empty?
              flushing.delete(type)
              next [nil, nil]
            end
            [kept.shift, targets]
          end
          return unless event

          begin
            targets.each { |l| l.call(event) }
          rescue Exception # rubocop:disable Lint/RescueException
            schedule_flush(type)
            raise
          end
        end
      end
    end
  end
end
