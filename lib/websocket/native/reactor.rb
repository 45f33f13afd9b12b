# frozen_string_literal: true

module WebSocket
  module Native
    # The one Ruby thread that runs callbacks. Events from the native core, scheduled blocks and
    # timers all run here, one at a time, in arrival order.
    #
    # The reactor thread is whoever calls {#run}; without one, a background thread starts with the
    # first client (or scheduled block) and ends when nothing is left for it to do.
    class Reactor
      BATCH = 512
      OPEN, TEXT, BINARY, PONG, ERROR, CLOSE, DRAIN, TRACE, FAILING = (0..8).to_a.freeze
      # Slots per event in the flat Array Native.drain returns: id, kind and three arguments.
      STRIDE = 5

      # @return [Reactor] the process's reactor
      def self.instance
        @instance
      end

      # @return [#call, nil] receives exceptions raised by callbacks (EM.error_handler)
      attr_accessor :error_handler

      def initialize
        @lock = Mutex.new
        @clients = {}
        @next_id = 0
        @ticks = Thread::Queue.new # pushing to a Queue is allowed in a signal trap; a Mutex is not
        @timers = Timers.new
        @thread = nil
        @mode = nil
        @stop = false
        @pending_stop = false
        @backlog = []
        @cursor = 0 # index in @backlog of the next event to dispatch
        @stop_hooks = []
        @pid = Process.pid
      end

      # Adds a client; its events are dispatched to it until its close event.
      # @return [Integer] the id the native core tags its events with
      def register(client)
        @lock.synchronize do
          check_fork
          @next_id += 1
          @clients[@next_id] = client
          start_background unless reactor_alive?
          @next_id
        end
      end

      # Drops a client whose connection never started (Connection.open raised).
      def forget(id)
        @lock.synchronize { @clients.delete(id) }
      end

      # @return [Integer] clients not yet closed (EM.connection_count)
      def client_count
        @clients.size
      end

      # Runs a block on the reactor thread soon (EM.next_tick / EM.schedule); safe from any
      # thread and from a signal trap.
      # @return [void]
      def schedule(&block)
        Native.synchronize(@lock) do |locked|
          check_fork if locked # first: after a fork it replaces the queue
          @ticks << block
          # In a trap a running reactor picks the block up; none is started from there.
          start_background if locked && !reactor_alive?
        end
        Native.wake
      end

      # Runs a block on the reactor thread after `seconds`; safe from any thread.
      # @return [Timers::Entry] call #cancel on it to stop it
      def add_timer(seconds, &block)
        entry = @timers.make(seconds, &block)
        Native.synchronize(@lock) do |locked|
          if locked
            check_fork
            start_background unless reactor_alive?
            @timers.insert(entry)
          else
            # In a signal trap: the reactor files it on its next pass.
            @ticks << -> { @lock.synchronize { @timers.insert(entry) } }
          end
        end
        Native.wake
        entry
      end

      # @return [Boolean] true on the thread that runs callbacks
      def reactor_thread?
        @thread == Thread.current
      end

      # @return [Boolean] true while a thread runs {#run}
      def running?
        @mode == :foreground
      end

      # @return [Boolean] true between {#stop} and the end of {#run}
      def stopping?
        running? && @stop
      end

      # Makes the calling thread the reactor thread until {#stop}. A block runs first, on it.
      # @raise [Error] when another thread already runs the reactor
      def run(&block)
        if reactor_thread?
          block&.call
          return
        end
        take_over
        normally = false
        begin
          guard(&block) if block
          loop_until_stopped
          normally = true
        ensure
          release(normally)
        end
      end

      # Ends {#run} after the callback that is running; from any thread and from a signal trap
      # (so it takes no lock). Called when nothing runs the reactor, it makes the next {#run}
      # return as soon as its block and queued work are done (unless remember: false).
      def stop(remember: true)
        if running?
          @stop = true
        elsif remember
          @pending_stop = true
        end
        Native.wake
      end

      # Blocks run on the reactor thread when {#run} is about to end (EM.add_shutdown_hook);
      # cleared after they ran.
      # @return [void]
      def on_stop(&block)
        @lock.synchronize { @stop_hooks << block }
      end

      # Forgets every timer and scheduled block (EventMachine does this when its loop ends).
      def clear_scheduled
        @ticks.clear
        @lock.synchronize { @timers.clear }
      end

      # Called in a forked child: the parent's threads and connections are not ours.
      def after_fork
        @lock.synchronize { check_fork }
      end

      private

      def take_over
        previous = @lock.synchronize do
          check_fork
          raise Error, "the reactor is already running in #{@thread.inspect}" if running?

          bg = @thread
          @thread = Thread.current
          @mode = :foreground
          @stop = @pending_stop
          @pending_stop = false
          bg
        end
        return unless previous

        Native.wake
        begin
          previous.join
        rescue Exception # rubocop:disable Lint/RescueException
          nil # the old background thread's failure was reported when it happened
        end
      end

      # After a normal end, whatever is left (open clients, their events) goes on in the
      # background. After an exception, queued events wait for the next run, as DESIGN.md says.
      def release(normally)
        # When run ends by an exception, the hooks still run (EventMachine runs them in ensure).
        begin
          run_stop_hooks
        rescue Exception => e # rubocop:disable Lint/RescueException
          warn "websocket-native: a shutdown hook raised #{e.class}: #{e.message}"
        end
        @lock.synchronize do
          @thread = nil
          @mode = nil
          @stop = false
          start_background if normally && !idle?
        end
      end

      def reactor_alive?
        @thread&.alive?
      end

      def idle?
        @clients.empty? && @ticks.empty? && @timers.empty? && !backlog?
      end

      def start_background
        @mode = :background
        @thread = Thread.new { background_loop }
        @thread.name = "websocket-native reactor"
      end

      def background_loop
        loop do
          done = @lock.synchronize do
            next true unless @thread == Thread.current

            if idle?
              @thread = nil
              @mode = nil
              next true
            end
            false
          end
          return if done

          begin
            turn
          rescue SystemExit => e
            Thread.main.raise(e) # `exit` in a callback means the process, not this thread
            return
          rescue StandardError, ScriptError => e
            report(e) # guard reports callback errors; this is the reactor's own, never fatal
          end
        end
      rescue Exception # rubocop:disable Lint/RescueException
        # Killed by an exception (a signal raised in a callback): a successor takes over the
        # rest of the batch and the inbox, so no client is stranded before its close event.
        @lock.synchronize { start_background if @thread == Thread.current && !idle? }
        raise
      ensure
        @lock.synchronize do
          if @thread == Thread.current
            @thread = nil
            @mode = nil
          end
        end
      end

      def loop_until_stopped
        turn until @stop
        # Deliver what is already queued with the callbacks of this run, as EventMachine does.
        run_ticks
        run_stop_hooks
      end

      def run_stop_hooks
        hooks = @lock.synchronize { @stop_hooks.slice!(0..) }
        hooks.each { |hook| guard { hook.call } }
      end

      # One pass: scheduled blocks, due timers, then events (waiting for them when nothing is due).
      def turn
        run_ticks
        run_timers
        # After a handover the old background thread must not wait for events: the new reactor
        # thread is joining it.
        return if @stop || @thread != Thread.current

        fill_backlog unless backlog?
        dispatch_backlog
      end

      # One at a time: after `stop`, or when a callback raises out of `run`, the rest stay queued.
      # One rescue around the loop rather than a guard per event (this runs per message); after
      # a handled exception the loop goes on with the next event.
      def dispatch_backlog
        until @stop || !backlog?
          begin
            backlog = @backlog
            while !@stop && (at = @cursor) < backlog.size
              @cursor = at + STRIDE
              dispatch(backlog[at], backlog[at + 1], backlog[at + 2], backlog[at + 3], backlog[at + 4])
            end
          rescue Exception => e # rubocop:disable Lint/RescueException
            handle(e)
          end
        end
      end

      # True while drained events wait for dispatch.
      def backlog?
        @cursor < @backlog.size
      end

      # Takes queued events; with none, waits on the core's wake-up descriptor with Ruby's own IO
      # wait, so signals, trap handlers, Thread#kill and Timeout all work while it blocks.
      def fill_backlog
        @cursor = 0
        @backlog = Native.drain(BATCH)
        return unless @backlog.empty?

        # Re-checked after the drain cleared old wake-ups: a later stop or schedule writes anew.
        timeout = wait_time
        return if @stop || timeout&.zero? || @thread != Thread.current

        wakeup_io.wait_readable(timeout)
        @backlog = Native.drain(BATCH)
      end

      def wakeup_io
        @wakeup_io = nil unless @wakeup_pid == Process.pid
        @wakeup_pid = Process.pid
        @wakeup_io ||= IO.for_fd(Native.wakeup_fd, autoclose: false)
      end

      def wait_time
        @lock.synchronize do
          next 0 unless @ticks.empty? && !backlog?

          @timers.wait_time
        end
      end

      # Blocks scheduled before this pass; those they schedule run in the next pass.
      def run_ticks
        @ticks.size.times do
          tick = begin
            @ticks.pop(true)
          rescue ThreadError
            break
          end
          guard { tick.call }
        end
      end

      # Timers due now; a periodic timer that re-adds itself waits for the next pass.
      def run_timers
        now = Native.now
        while (timer = @lock.synchronize { @timers.next_due(now) })
          guard { timer.fire }
        end
      end

      # Called inside dispatch_backlog's rescue, which does what guard does.
      def dispatch(id, kind, first, second, third)
        client = @clients[id]
        return unless client

        @lock.synchronize { @clients.delete(id) } if kind == CLOSE
        client.__send__(:handle_event, kind, first, second, third)
      end

      # Runs a callback; its exception goes to the error handler, out of `run`, or to warn.
      def guard
        yield
      rescue Exception => e # rubocop:disable Lint/RescueException
        handle(e)
      end

      # What guard does with a callback's exception.
      def handle(e)
        raise e if e.is_a?(SystemExit) || e.is_a?(SignalException)

        handler = @error_handler
        return report(e) unless handler

        begin
          handler.call(e)
        rescue Exception => e2 # rubocop:disable Lint/RescueException
          raise if e2.is_a?(SystemExit) || e2.is_a?(SignalException)

          report(e2)
        end
      end

      # Out of `run` on the foreground reactor (EventMachine's behaviour); printed on the background one.
      def report(error)
        raise error if @mode == :foreground && reactor_thread?

        begin
          warn "websocket-native: a callback raised #{error.class}: #{error.message}\n\t" \
               "#{error.backtrace&.first(8)&.join("\n\t")}"
        rescue IOError, SystemCallError
          nil # $stderr is closed or full: the report is lost, the rest of the batch must not be
        end
      end

      def check_fork
        return if @pid == Process.pid

        @pid = Process.pid
        @thread = nil
        @mode = nil
        @stop = false
        @ticks = Thread::Queue.new
        @backlog = []
        @cursor = 0
        @timers = Timers.new
        @clients.each_value do |client|
          @ticks << -> { client.__send__(:inherited_by_fork) }
        end
        @clients = {}
        start_background unless @ticks.empty?
      end
    end
  end
end
