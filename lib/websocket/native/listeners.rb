# frozen_string_literal: true

module WebSocket
  module Native
    # on / off / onopen= for a client. An event that arrives while its type has no listener is
    # kept and delivered when the first listener for that type is attached (as faye does), so
    # listeners attached on the lines after `new` never miss an event.
    module Listeners
      # Adds a listener for an event type.
      # @param type [Symbol, String] :open, :message, :error, :close
      # @yieldparam event [Event]
      # @return [self]
      def on(type, &block)
        raise ArgumentError, "on(#{type.inspect}) needs a block" unless block

        type = type.to_sym
        listeners_for(type) << block
        flush_kept(type)
        self
      end

      # Removes one listener (or all listeners of a type when no block is given).
      # @return [self]
      def off(type, &block)
        list = listeners_for(type.to_sym)
        block ? list.delete(block) : list.clear
        self
      end

      %i[open message error close].each do |type|
        # Sets the one `on<type>` handler; it runs before listeners added with {#on}.
        define_method(:"on#{type}=") do |handler|
          setter_slots[type] = handler
          flush_kept(type) if handler
        end

        define_method(:"on#{type}") { setter_slots[type] }
      end

      private

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
        @kept_events ||= Hash.new { |h, k| h[k] = [] }
      end

      # Calls the `on<type>` handler and the listeners of the event's type, or keeps the event
      # until one is attached.
      def emit(event)
        type = event.type.to_sym
        slot = setter_slots[type]
        list = listeners_for(type)
        if slot.nil? && list.empty?
          kept_events[type] << event
          return
        end
        slot&.call(event)
        list.dup.each { |l| l.call(event) }
      end

      def flush_kept(type)
        return unless @kept_events&.key?(type)

        events = @kept_events.delete(type)
        reactor.schedule { events.each { |e| emit(e) } }
      end
    end
  end
end
