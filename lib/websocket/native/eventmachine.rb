# frozen_string_literal: true

require_relative "../native"

# A small EventMachine for site code that used EM only to drive faye-websocket: the reactor,
# timers, next_tick/schedule, defer and error_handler, running on websocket-native's reactor.
# Loaded by websocket/native/faye when the real EventMachine is not loaded.
if defined?(EventMachine) && !defined?(WebSocket::Native::EventMachineShim)
  raise LoadError, "the real EventMachine is loaded; websocket/native/eventmachine is a stand-in " \
                   "for when it is not (websocket/native/faye uses the real one when present)"
end

module WebSocket
  module Native
    # Marks the stand-in so other code can tell it from the real EventMachine.
    module EventMachineShim; end
  end
end

# A later `require "eventmachine"` keeps this stand-in rather than loading a second EM over it:
# to use the real one, require it before websocket/native/faye.
$LOADED_FEATURES << "eventmachine.rb" unless $LOADED_FEATURES.include?("eventmachine.rb")

# The EventMachine API subset that faye-websocket site code uses.
module EventMachine
  # Timers fire on the reactor thread once, after `interval` seconds.
  class Timer
    # @param interval [Numeric] seconds
    def initialize(interval, callback = nil, &block)
      @signature = EventMachine.add_timer(interval, callback || block)
    end

    # Stops the timer from firing.
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
    def cancel
      @cancelled = true
      @entry&.cancel
    end

    private

    def schedule
      @entry = EventMachine.add_timer(@interval) { fire }
    end

    def fire
      return if @cancelled

      @code.call
      schedule unless @cancelled
    end
  end

  # A timer or tick asked for before EM.run: it starts when the reactor does, as in EventMachine.
  class Waiting
    attr_reader :interval, :code

    def initialize(interval, code)
      @interval = interval
      @code = code
      @cancelled = false
      @entry = nil
    end

    def start(reactor)
      return if @cancelled

      @entry = @interval ? reactor.add_timer(@interval) { @code.call } : reactor.schedule(&@code)
    end

    def cancel
      @cancelled = true
      @entry.cancel if @entry.respond_to?(:cancel)
    end
  end

  @defer_queue = Queue.new
  @defer_threads = []
  @defer_idle = 0
  @defer_lock = Mutex.new
  @threadpool_size = 20
  @waiting = Queue.new

  class << self
    # @return [Integer] threads used by {.defer} (EventMachine's default is 20)
    attr_accessor :threadpool_size

    # @return [WebSocket::Native::Reactor]
    def reactor
      WebSocket::Native::Reactor.instance
    end

    # Runs the reactor on this thread until {.stop}. Inside a running reactor, just calls the block.
    # @return [void]
    def run(blk = nil, tail = nil, &block)
      block ||= blk
      if reactor_running?
        block&.call
        return
      end
      reactor.run do
        start_waiting
        block&.call
      end
      tail&.call
    ensure
      reactor.clear_scheduled unless reactor_running?
    end

    # Runs the block in a reactor and stops it when the block returns.
    def run_block(&block)
      run do
        block.call
        stop
      end
    end

    # Ends {.run} after the current callback; safe from any thread.
    def stop_event_loop
      reactor.stop(remember: false)
    end
    alias stop stop_event_loop

    # @return [Boolean]
    def reactor_running?
      reactor.running?
    end

    # @return [Boolean] true after {.stop} until {.run} returns
    def stopping?
      reactor.stopping?
    end

    # @return [Boolean] true on the thread that runs callbacks
    def reactor_thread?
      reactor.reactor_thread?
    end

    # Runs the block on the reactor thread in a later pass; safe from any thread. Before EM.run,
    # it waits for the reactor to start.
    def next_tick(pr = nil, &block)
      code = pr || block
      raise ArgumentError, "no proc or block given" unless code

      reactor_running? ? reactor.schedule(&code) : wait_for_run(nil, code)
    end

    # Runs the block now when called on the reactor thread, otherwise on it soon.
    def schedule(*args, &block)
      code = block || args.first
      raise ArgumentError, "no proc or block given" unless code

      reactor_thread? ? code.call : next_tick(code)
    end

    # @return [WebSocket::Native::Timers::Entry] a signature for {.cancel_timer}
    def add_timer(interval, code = nil, &block)
      callback = code || block
      raise ArgumentError, "no proc or block given" unless callback

      reactor_running? ? reactor.add_timer(interval.to_f) { callback.call } : wait_for_run(interval.to_f, callback)
    end

    # @return [PeriodicTimer]
    def add_periodic_timer(interval, code = nil, &block)
      PeriodicTimer.new(interval, code, &block)
    end

    # Cancels a timer made by {.add_timer} (or a Timer / PeriodicTimer).
    def cancel_timer(signature)
      signature.cancel if signature.respond_to?(:cancel)
    end

    # Runs `op` on a pool thread; `callback` gets its result on the reactor thread, `errback`
    # gets its exception there.
    def defer(op = nil, callback = nil, errback = nil, &block)
      operation = op || block
      raise ArgumentError, "no operation given" unless operation

      reset_defer_pool_after_fork
      @defer_lock.synchronize do
        @defer_threads.select!(&:alive?)
        # Every queued job needs an idle thread of its own, or jobs that wait on each other deadlock.
        spawn_defer_thread if @defer_idle <= @defer_queue.size && @defer_threads.size < @threadpool_size
        @defer_queue << [operation, callback, errback]
      end
      nil
    end

    # @return [Boolean] true when no deferred operation is queued or running
    def defers_finished?
      @defer_lock.synchronize { @defer_queue.empty? && @defer_idle == @defer_threads.count(&:alive?) }
    end

    # Sets the block that receives exceptions raised by callbacks (instead of leaving run).
    def error_handler(callback = nil, &block)
      reactor.error_handler = callback || block
    end

    # Runs the block when the current {.run} ends.
    def add_shutdown_hook(&block)
      reactor.on_stop(&block)
    end

    # Options EventMachine needs and this reactor does not: accepted, nothing to do.
    def epoll(*) = true
    def kqueue(*) = false
    def set_max_timers(*) = nil
    def set_quantum(*) = nil

    private

    # A forked child has none of the parent's pool threads.
    def reset_defer_pool_after_fork
      return if @defer_pid == Process.pid

      @defer_pid = Process.pid
      @defer_lock = Mutex.new
      @defer_queue = Queue.new
      @defer_threads = []
      @defer_idle = 0
    end

    def wait_for_run(interval, code)
      waiting = Waiting.new(interval, code)
      @waiting << waiting
      waiting
    end

    def start_waiting
      @waiting.size.times { @waiting.pop(true).start(reactor) }
    end

    def spawn_defer_thread
      @defer_idle += 1
      thread = Thread.new do
        loop do
          operation, callback, errback = @defer_queue.pop
          @defer_lock.synchronize { @defer_idle -= 1 }
          run_deferred(operation, callback, errback)
          @defer_lock.synchronize { @defer_idle += 1 }
        end
      end
      thread.name = "websocket-native defer"
      @defer_threads << thread
    end

    def run_deferred(operation, callback, errback)
      result = operation.call
      reactor.schedule { callback.call(result) } if callback
    rescue Exception => e # rubocop:disable Lint/RescueException
      raise if e.is_a?(SignalException) || e.is_a?(SystemExit)

      # Without an errback the exception surfaces on the reactor, like one from a callback.
      errback ? reactor.schedule { errback.call(e) } : reactor.schedule { raise e }
    end
  end
end

EM = EventMachine unless defined?(EM)
