# frozen_string_literal: true

# EM.run and the calls that steer the loop, on websocket-native's reactor.
module EventMachine
  # A timer or tick asked for before EM.run: it starts when the reactor does.
  class Waiting
    def initialize(interval, code)
      @interval = interval
      @code = code
      @cancelled = false
      @entry = nil
    end

    # Hands the work to the reactor that just started, unless it was cancelled meanwhile.
    def start(reactor)
      return if @cancelled

      @entry = @interval ? reactor.add_timer(@interval) { @code.call } : reactor.schedule(&@code)
    end

    # Stops the work from running.
    def cancel
      @cancelled = true
      @entry.cancel if @entry.respond_to?(:cancel)
    end
  end

  @waiting = Thread::Queue.new # not EM::Queue: that is the site-facing one

  class << self
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
      unless reactor_running?
        reactor.clear_scheduled
        forget_timers
      end
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
    # @return [nil]
    def next_tick(pr = nil, &block)
      code = pr.respond_to?(:call) ? pr : block
      raise ArgumentError, "EM.next_tick needs a proc or a block" unless code

      reactor_running? ? reactor.schedule(&code) : wait_for_run(nil, code)
      nil
    end

    # Runs the callback now when called on the reactor thread (returning its value), otherwise
    # on the reactor thread soon. Takes what {EventMachine.Callback} takes.
    def schedule(*args, &block)
      code = EventMachine.Callback(*args, &block)
      reactor_thread? ? code.call : next_tick(code)
    end

    # Sets the block that receives exceptions raised by callbacks (instead of leaving run).
    def error_handler(callback = nil, &block)
      reactor.error_handler = callback || block
    end

    # Runs the block when the current {.run} ends.
    def add_shutdown_hook(&block)
      reactor.on_stop(&block)
    end

    # The time on EventMachine's clock: a Time counted from an arbitrary start (the monotonic
    # clock, as EventMachine's), so only differences between two readings mean something.
    # @return [Time]
    def current_time
      Time.at(WebSocket::Native.now)
    end

    # @return [Integer] websocket-native connections not yet closed (EventMachine counts its own
    #   connections; with the stand-in, those are the WebSocket clients)
    def connection_count
      reactor.client_count
    end

    private

    def wait_for_run(interval, code)
      waiting = Waiting.new(interval, code)
      @waiting << waiting
      waiting
    end

    def start_waiting
      @waiting.size.times { @waiting.pop(true).start(reactor) }
    end
  end
end
