# frozen_string_literal: true

# EventMachine's timers: Integer signatures from EM.add_timer, EM::Timer, EM::PeriodicTimer, and
# EventMachine's limit on outstanding timers.
module EventMachine
  # Fires on the reactor thread once, after `interval` seconds.
  class Timer
    # @param interval [Numeric] seconds
    def initialize(interval, callback = nil, &block)
      @signature = EventMachine.add_timer(interval, callback || block)
    end

    # Stops the timer from firing.
    # @return [false, nil] what {EventMachine.cancel_timer} returns for the signature
    def cancel
      EventMachine.cancel_timer(@signature)
    end
  end

  # Fires on the reactor thread every `interval` seconds until cancelled.
  class PeriodicTimer
    # @return [Numeric] seconds between runs; a change applies from the next run
    attr_accessor :interval

    # @param interval [Numeric] seconds
    def initialize(interval, callback = nil, &block)
      @interval = interval
      @code = callback || block
      @cancelled = false
      schedule
    end

    # Stops the timer.
    # @return [true]
    def cancel
      EventMachine.cancel_timer(@signature)
      @cancelled = true
    end

    private

    def schedule
      @signature = EventMachine.add_timer(@interval) { fire }
    end

    def fire
      return if @cancelled

      @code.call
      schedule unless @cancelled
    end
  end

  DEFAULT_MAX_TIMERS = 100_000 # EventMachine's default
  MIN_MAX_TIMERS = 100 # EventMachine raises a smaller limit to this

  @timers = {} # signature => the reactor's entry (or a Waiting one before EM.run)
  @timer_signature = 0
  @timer_lock = Mutex.new
  @max_timers = DEFAULT_MAX_TIMERS

  class << self
    # Runs the callback once on the reactor thread after `interval` seconds.
    # @param interval [Numeric] seconds
    # @return [Integer, nil] a signature for {.cancel_timer}; nil without a callback, as in EventMachine
    # @raise [RuntimeError] when {.get_max_timers} timers are already outstanding
    def add_timer(interval, code = nil, &block)
      callback = code || block
      return unless callback

      seconds = interval.to_f
      timer_registry do |timers|
        if timers.size >= @max_timers
          raise RuntimeError, "EM.add_timer: ran out of timers (#{@max_timers} outstanding); " \
                              "use EM.set_max_timers before EM.run to raise the limit"
        end

        signature = (@timer_signature += 1)
        fire = lambda do
          timer_registry { |t| t.delete(signature) }
          callback.call
        end
        timers[signature] = reactor_running? ? reactor.add_timer(seconds, &fire) : wait_for_run(seconds, fire)
        signature
      end
    end

    # @return [PeriodicTimer]
    def add_periodic_timer(interval, code = nil, &block)
      PeriodicTimer.new(interval, code || block)
    end

    # Cancels a timer: a signature from {.add_timer}, or anything with #cancel (Timer, PeriodicTimer).
    # @return [false, nil] false when the signature was outstanding, nil when unknown (as EventMachine)
    def cancel_timer(timer_or_signature)
      return timer_or_signature.cancel if timer_or_signature.respond_to?(:cancel)

      entry = timer_registry { |timers| timers.delete(timer_or_signature) }
      return nil unless entry

      entry.cancel
      false
    end

    # Sets how many timers may be outstanding at once (at least 100, as in EventMachine).
    # @raise [RuntimeError] inside EM.run: EventMachine fixes the limit when the reactor starts
    # @return [nil]
    def set_max_timers(count) # rubocop:disable Naming/AccessorMethodName
      if reactor_running?
        raise RuntimeError, "EM.set_max_timers is refused while the reactor runs: call it before EM.run"
      end

      @max_timers = [Integer(count), MIN_MAX_TIMERS].max
      nil
    end

    # @return [Integer] how many timers may be outstanding at once
    def get_max_timers # rubocop:disable Naming/AccessorMethodName
      @max_timers
    end

    private

    # The signature table, locked (in a signal trap, where no Mutex may be taken, unlocked: the
    # trap runs between two steps of the interrupted thread).
    def timer_registry(&block)
      WebSocket::Native.synchronize(@timer_lock) { block.call(@timers) }
    end

    # The reactor forgot its timers when run ended; so do the signatures.
    def forget_timers
      timer_registry(&:clear)
    end
  end
end
