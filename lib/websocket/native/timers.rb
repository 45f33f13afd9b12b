# frozen_string_literal: true

module WebSocket
  module Native
    # The reactor's timers, kept sorted by due time. Not thread-safe: the reactor locks around it.
    class Timers
      # One scheduled block; {#cancel} is safe from any thread.
      class Entry
        # @return [Float] monotonic due time
        attr_reader :at

        def initialize(at, seq, block)
          @at = at
          @seq = seq
          @block = block
          @cancelled = false
        end

        # @return [Array] the sort key
        def key
          [@at, @seq]
        end

        # Stops the block from running.
        def cancel
          @cancelled = true
        end

        # @return [Boolean]
        def cancelled?
          @cancelled
        end

        # Runs the block unless it was cancelled.
        def fire
          @block.call unless @cancelled
        end
      end

      def initialize
        @entries = []
        @seq = 0
      end

      # @param seconds [Numeric] delay from now
      # @return [Entry]
      def add(seconds, &block)
        insert(make(seconds, &block))
      end

      # An entry not yet in the list (for adding it later, e.g. from a signal trap).
      # @return [Entry]
      def make(seconds, &block)
        Entry.new(Native.now + seconds.to_f, @seq += 1, block)
      end

      # @return [Entry] the entry, now in the list in due order
      def insert(entry)
        index = @entries.bsearch_index { |e| (e.key <=> entry.key) >= 0 } || @entries.size
        @entries.insert(index, entry)
        entry
      end

      # @return [Entry, nil] the first entry due by `now`, removed from the list
      def next_due(now)
        @entries.shift while @entries.first&.cancelled?
        @entries.shift if @entries.first && @entries.first.at <= now
      end

      # @return [Float, nil] seconds until the next entry is due, nil when there is none
      def wait_time(now = Native.now)
        @entries.reject!(&:cancelled?)
        first = @entries.first
        return nil if first.nil? || first.at.infinite? # a timer for "never" needs no wake-up

        [first.at - now, 0.0].max
      end

      # @return [Boolean]
      def empty?
        @entries.none? { |e| !e.cancelled? }
      end

      # Forgets every entry.
      def clear
        @entries.clear
      end
    end

    # @return [Float] seconds on the monotonic clock
    def self.now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
