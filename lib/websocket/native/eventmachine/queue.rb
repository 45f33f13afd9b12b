# frozen_string_literal: true

# EM::Queue: items handed to callbacks on the reactor thread, oldest first; a pop with nothing
# queued waits for the next push.
module EventMachine
  # Items and waiting callbacks are touched only on the reactor thread, so any thread may use it.
  class Queue
    def initialize
      @items = []
      @waiting = []
    end

    # Calls the callback (see {EventMachine.Callback}) with the next item, now or when one is pushed.
    # @return [nil]
    def pop(*args, &block)
      code = EventMachine.Callback(*args, &block)
      EventMachine.schedule do
        @items.empty? ? @waiting << code : code.call(@items.shift)
      end
      nil
    end

    # Adds items; waiting callbacks get them first.
    # @return [nil]
    def push(*items)
      EventMachine.schedule do
        @items.concat(items)
        @waiting.shift.call(@items.shift) until @items.empty? || @waiting.empty?
      end
      nil
    end
    alias << push

    # @return [Boolean] true when no item is queued
    def empty?
      @items.empty?
    end

    # @return [Integer] items queued
    def size
      @items.size
    end

    # @return [Integer] callbacks waiting for an item
    def num_waiting
      @waiting.size
    end
  end
end
