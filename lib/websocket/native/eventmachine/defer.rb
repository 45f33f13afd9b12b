# frozen_string_literal: true

# EM.defer: blocking work on a pool of threads, its result or exception back on the reactor thread.
module EventMachine
  @defer_queue = Thread::Queue.new
  @defer_threads = []
  @defer_idle = 0
  @defer_lock = Mutex.new
  @threadpool_size = 20

  class << self
    # @return [Integer] threads used by {.defer} (EventMachine's default is 20)
    attr_accessor :threadpool_size

    # Runs `op` on a pool thread; `callback` gets its result on the reactor thread, `errback`
    # gets its exception there.
    # @return [nil]
    def defer(op = nil, callback = nil, errback = nil, &block)
      operation = op || block
      raise ArgumentError, "EM.defer needs an operation (a proc or a block)" unless operation

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

    private

    # A forked child has none of the parent's pool threads.
    def reset_defer_pool_after_fork
      return if @defer_pid == Process.pid

      @defer_pid = Process.pid
      @defer_lock = Mutex.new
      @defer_queue = Thread::Queue.new
      @defer_threads = []
      @defer_idle = 0
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
