# frozen_string_literal: true

# EM.tick_loop / EM::TickLoop: runs a callback once per reactor pass until it returns :stop or
# the loop is stopped.
module EventMachine
  # A callback repeated every reactor pass, with callbacks for when it stops.
  class TickLoop
    # @param args [Array] what {EventMachine.Callback} takes: the work done each pass
    def initialize(*args, &block)
      @work = EventMachine.Callback(*args, &block)
      @on_stop = []
      @stopped = true
    end

    # Calls the callback when the loop stops (at once when it is stopped already).
    def on_stop(*args, &block)
      code = EventMachine.Callback(*args, &block)
      @stopped ? code.call : @on_stop << code
    end

    # Stops the loop and runs the on_stop callbacks, oldest first.
    def stop
      @stopped = true
      @on_stop.shift.call until @on_stop.empty?
    end

    # @return [Boolean]
    def stopped?
      @stopped
    end

    # Starts the loop from the next reactor pass.
    # @return [self]
    # @raise [ArgumentError] when it runs already
    def start
      raise ArgumentError, "double start" unless @stopped

      @stopped = false
      schedule
    end

    private

    def schedule
      EventMachine.next_tick do
        next if @stopped

        @work.call == :stop ? stop : schedule
      end
      self
    end
  end

  # Starts a {TickLoop} with this work.
  # @return [TickLoop]
  def self.tick_loop(*args, &block)
    TickLoop.new(*args, &block).start
  end
end
