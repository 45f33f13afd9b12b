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
        flush = locked do
          listeners_for(type) << block
          refresh_targets(type)
          kept?(type)
        end
        schedule_flush(type) if flush
        self
      end

      # Removes one listener (or all listeners of a type when no block is given).
      # @return [self]
      def off(type, &block)
        type = type.to_sym
        locked do
          list = listeners_for(type)
          block ? list.delete(block) : list.clear
          refresh_targets(type)
        end
        self
      end

      %i[open message error close].each do |type|
        # Sets the one `on<type>` handler; it runs before listeners added with {#on}.
        define_method(:"on#{type}=") do |handler|
          flush = locked do
            setter_slots[type] = handler
            refresh_targets(type)
            handler && kept?(type)
          end
          schedule_flush(type) if flush
        end

        define_method(:"on#{type}") { @setter_slots&.[](type) }
      end

      private

      def listener_lock
        @listener_lock ||= Mutex.new
      end

      # The listener lock (unlocked inside a signal trap, see Native.synchronize).
      def locked
        Native.synchronize(listener_lock) { yield }
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

      # Made only when an event is kept: most clients never keep one.
      def kept?(type)
        @kept_events&.key?(type) || false
      end

      # type => frozen list of the `on<type>` handler then listeners, rebuilt by on/off/on<type>=,
      # so an emit reads one Hash entry and allocates nothing.
      def target_table
        @target_table ||= {}
      end

      # Called locked. A new frozen list replaces the old one: an emit running meanwhile on the
      # reactor sees either, whole.
      def refresh_targets(type)
        slot = @setter_slots&.[](type)
        listeners = listeners_for(type)
        list = slot ? [slot, *listeners] : listeners.dup
        target_table[type] = list.empty? ? nil : list.freeze
      end

      # The `on<type>` handler first, then listeners; nil when there is none.
      def targets_for(type)
        target_table[type]
      end

      # Calls the listeners of the event's type, or keeps the event (also while kept events of
      # its type are still being delivered, so the order holds).
      def emit(event)
        type = event.type
        type = type.to_sym unless type.is_a?(Symbol)
        # The common case takes no lock: events are kept and flushed only on the reactor thread,
        # and the target list is replaced whole. (Ivars read directly: this runs per message.)
        targets = @target_table&.[](type)
        return targets.each { |l| l.call(event) } if targets && (@kept_events.nil? || @kept_events.empty?)

        flush = false
        targets = locked do
          if kept?(type) || targets_for(type).nil?
            (kept_events[type] ||= []) << event
            # Queued behind kept events while listeners exist: make sure a flush will come (a
            # scheduled one may have been dropped, e.g. when EM.run ended). Flushes are idempotent.
            flush = !targets_for(type).nil?
            nil
          else
            targets_for(type)
          end
        end
        schedule_flush(type) if flush
        targets&.each { |l| l.call(event) }
      end

      def schedule_flush(type)
        reactor.schedule { flush_kept(type) }
      end

      # Delivers kept events one at a time on the reactor thread. If a listener raises, the rest
      # stay kept and another flush is scheduled.
      def flush_kept(type)
        loop do
          event, targets = locked do
            kept = @kept_events&.[](type)
            targets = targets_for(type)
            if kept.nil? || kept.empty? || targets.nil?
              kept_events.delete(type) if kept&.empty?
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
