# frozen_string_literal: true

# EM::Iterator: walks a list with up to `concurrency` items in flight; each step says when it is
# done, so a step may wait for I/O. Steps start in later reactor passes, as in EventMachine.
module EventMachine
  # Iterates over an Array (or anything with #to_a) or over a proc that returns the next item,
  # or {Iterator::Stop} at the end.
  class Iterator
    Stop = "EM::Stop"

    # Handed to each step: call {#next} (or #call) once when the item is done.
    class Step
      def initialize(&done)
        @done = done
        @called = false
      end

      # Marks the item done; the iterator moves on.
      def next(*args)
        raise RuntimeError, "already completed this iteration" if @called

        @called = true
        @done.call(*args)
      end
      alias call next
    end

    # Handed to each step of {Iterator#map} and {Iterator#inject}: call {#return} with the value.
    class ReturnStep < Step
      def initialize(kind, &done)
        super(&done)
        @kind = kind
      end

      # Gives the item's value; the iterator moves on.
      def return(value)
        raise RuntimeError, "already returned a value for this iteration" if @called

        @called = true
        @done.call(value)
      end
      alias call return

      # @raise [NoMethodError] a map or inject step ends with #return
      def next(*)
        raise NoMethodError, "must call #return on a #{@kind} iterator"
      end
    end

    # @return [Integer] items in flight at most
    attr_reader :concurrency

    # @param list [#to_a, #call] the items, or a proc returning the next one (Stop at the end)
    # @param concurrency [Integer] items in flight at most
    def initialize(list, concurrency = 1)
      raise ArgumentError, "concurrency must be bigger than zero" unless concurrency.positive?

      if list.respond_to?(:call)
        @source = list
      elsif list.respond_to?(:to_a)
        items = list.to_a.dup
        @source = -> { items.empty? ? Stop : items.shift }
      else
        raise ArgumentError, "argument must be a proc or an array"
      end
      @concurrency = concurrency
      @started = false
      @ended = false
    end

    # Raising it starts more workers at once; lowering it lets the extra ones finish.
    def concurrency=(value)
      old = @concurrency
      @concurrency = value
      spawn_workers if value > old && @started && !@ended
    end

    # Calls `foreach` with each item and a {Step}; `after` once every item is done.
    # @return [self]
    def each(foreach = nil, after = nil, &block)
      foreach ||= block
      raise ArgumentError, "proc or block required for iteration" unless foreach
      raise RuntimeError, "cannot iterate over an iterator more than once" if @started || @ended

      @started = true
      @pending = 0
      @workers = 0
      @foreach = foreach
      @after = after
      spawn_workers
      self
    end

    # Collects what each step returns (step.return(value)), in list order, and calls `after` with it.
    def map(foreach, after)
      index = -1
      inject([], lambda { |results, item, step|
        slot = (index += 1)
        foreach.call(item, ReturnStep.new(:map) { |value| results[slot] = value; step.return(results) })
      }, after)
    end

    # Folds the items: each step returns the new accumulator; `after` gets the last one.
    def inject(initial, foreach, after)
      memo = initial
      each(lambda { |item, step|
        foreach.call(memo, item, ReturnStep.new(:inject) { |value| memo = value; step.next })
      }, -> { after.call(memo) })
    end

    private

    # Starts workers one reactor pass apart until `concurrency` run.
    def spawn_workers
      starter = lambda do
        next unless @workers < @concurrency && !@ended

        @workers += 1
        process_next
        EventMachine.next_tick(starter)
      end
      EventMachine.next_tick(starter)
      nil
    end

    # One worker takes the next item, unless the list ended or there are too many workers.
    def process_next
      if @ended || @workers > @concurrency
        @workers -= 1
        return
      end

      item = @source.call
      return finish_worker if item.equal?(Stop)

      @pending += 1
      @foreach.call(item, Step.new { item_done })
    end

    def item_done
      @pending -= 1
      @ended ? all_done : EventMachine.next_tick { process_next }
    end

    def finish_worker
      @ended = true
      @workers -= 1
      all_done
    end

    def all_done
      @after&.call if @ended && @pending.zero?
    end
  end
end
