# frozen_string_literal: true

require "spec_helper"

# Site code that uses EventMachine beyond timers, run on the stand-in (`require
# "websocket/native/eventmachine"`, nothing else) and on the real EventMachine: both must print
# exactly `expected`, which is what EventMachine 1.3 prints.
RSpec.describe "EventMachine stand-in: EM-only APIs side by side with the real EventMachine" do
  head = <<~'RUBY'
    if ENV.fetch("EM_IMPL") == "real"
      require "eventmachine"
      raise "the stand-in was loaded" if defined?(WebSocket::Native::EventMachineShim)
    else
      require "websocket/native/eventmachine"
      raise "the stand-in was not loaded" unless defined?(WebSocket::Native::EventMachineShim)
    end
  RUBY

  scenarios = {
    "Deferrable: callback/errback order and arguments, late callbacks, cancel_callback, timeout, set_deferred_status" => {
      code: <<~'RUBY',
        class Lookup
          include EM::Deferrable
        end
        EM.run do
          watchdog
          d = EM::DefaultDeferrable.new
          log :callback_returns_self, d.callback { |a, b| log :cb1, a, b }.equal?(d), d.callback.inspect
          d.callback { |*args| log :cb2, args }
          d.errback { log :never }
          removed = proc { log :removed }
          d.callback(&removed)
          log :cancel_callback, d.cancel_callback(removed).equal?(removed)
          d.succeed(1, 2)
          d.callback { |a, b| log :late_cb, a, b }
          d.errback { log :late_eb_never }
          d.fail(:x)
          d.errback { |x| log :after_fail, x }

          l = Lookup.new
          l.errback { |why| log :timed_out, why }
          l.callback { log :never }
          log :timeout_returns_self, l.timeout(0.1, :too_slow).equal?(l)

          c = Lookup.new
          c.errback { log :cancelled_timeout_never_fires }
          c.timeout(0.05)
          c.cancel_timeout
          s = Lookup.new
          s.timeout(0.05) { }
          s.set_deferred_status(:succeeded, :via_status)
          s.callback { |v| log :status, v }
          n = Lookup.new
          n.set_deferred_status(:unknown)
          n.callback { |v| log :after_unknown, v }
          n.set_deferred_success(:ok)
          e = Lookup.new
          e.errback { |v| log :failure, v }
          e.set_deferred_failure(:bad)
          nested = EM::DefaultDeferrable.new
          nested.callback { log :first; nested.fail(:switched) }
          nested.callback { log :second_never }
          nested.errback { |v| log :switched_to_errback, v }
          nested.succeed
          EM.add_timer(0.3) { s.callback { log :timeout_cancelled_by_status }; EM.stop }
        end
      RUBY
      expected: [
        ':callback_returns_self true "nil"',
        ':cancel_callback true',
        ':cb1 1 2',
        ':cb2 [1, 2]',
        ':late_cb 1 2',
        ':after_fail :x',
        ':timeout_returns_self true',
        ':status :via_status',
        ':after_unknown :ok',
        ':failure :bad',
        ':first',
        ':switched_to_errback :switched',
        ':timed_out :too_slow',
        ':timeout_cancelled_by_status',
        ':exit'
      ]
    },
    "Channel: subscribe (block, callable, object and method), push, <<, pop, unsubscribe, push from a thread" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ch = EM::Channel.new
          a = ch.subscribe { |m| log :a, m, EM.reactor_thread? }
          b = ch.subscribe(proc { |m| log :b, m })
          log :ids, a.class, b == a + 1, ch.num_subscribers
          ch.push(1, 2)
          ch << 3
          ch.pop { |m| log :pop_once, m }
          EM.next_tick do
            ch.unsubscribe(a)
            ch.push(4)
            log :subscribers, ch.num_subscribers
            Thread.new { ch.push(:from_thread) }.join
            EM.add_timer(0.1) do
              h = Object.new
              def h.got(m) = log(:method_subscriber, m)
              ch.subscribe(h, :got)
              ch.push(5)
              EM.next_tick { log :subscribers, ch.num_subscribers; EM.stop }
            end
          end
        end
      RUBY
      expected: [
        ':ids Integer true 2',
        ':a 1 true',
        ':b 1',
        ':a 2 true',
        ':b 2',
        ':a 3 true',
        ':b 3',
        ':b 4',
        ':pop_once 4',
        ':subscribers 1',
        ':b :from_thread',
        ':b 5',
        ':method_subscriber 5',
        ':subscribers 2',
        ':exit'
      ]
    },
    "Queue: waiting pops, push, <<, size, empty?, num_waiting, pop with a method, push from a thread" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          q = EM::Queue.new
          log :empty, q.empty?, q.size, q.num_waiting
          log :pop_returns, q.pop { |i| log :first_waiter, i, EM.reactor_thread? }.inspect
          q.pop(proc { |i| log :second_waiter, i })
          log :waiting, q.num_waiting
          log :push_returns, q.push(:a, :b, :c).inspect
          log :after_push, q.size, q.empty?, q.num_waiting
          q << :d
          h = Object.new
          def h.take(i) = log(:method_pop, i)
          q.pop(h, :take)
          q.pop { |i| log :third, i }
          log :left, q.size
          Thread.new { q.push(:from_thread) }.join
          EM.next_tick do
            log :drained, q.size
            q.pop do |i|
              log :waited_for, i
              EM.stop
            end
            EM.add_timer(0.1) { q.push(:later) }
          end
        end
      RUBY
      expected: [
        ':empty true 0 0',
        ':pop_returns "nil"',
        ':waiting 2',
        ':first_waiter :a true',
        ':second_waiter :b',
        ':push_returns "nil"',
        ':after_push 1 false 0',
        ':method_pop :c',
        ':third :d',
        ':left 0',
        ':drained 1',
        ':waited_for :from_thread',
        ':exit'
      ]
    },
    "Iterator: each with concurrency, the pass each step runs in, map, inject, proc lists, concurrency=, misuse" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          # Timed steps: with two in flight, 1 finishes first and 2 takes its place before 4 ends.
          EM::Iterator.new([4, 1, 2], 2).each(proc { |n, step|
            log :start, n
            EM.add_timer(n * 0.3) { log :done, n; step.next }
          }, proc { log :each_after })
          # Instant steps interleaved with a tick counter: the exact pass each step runs in.
          tick = 0
          EM.tick_loop { tick += 1; tick == 12 ? :stop : nil }
          EM::Iterator.new(%w[a b c d e], 3).each { |x, step| log :instant, x, tick; step.next }
          EM::Iterator.new(1..4).map(proc { |n, step| EM.add_timer((5 - n) * 0.01) { step.return(n * n) } },
                                     proc { |squares| log :map, squares })
          EM::Iterator.new([1, 2, 3], 3).inject(10, proc { |sum, n, step| step.return(sum + n) },
                                                proc { |sum| log :inject, sum })
          left = [:x, :y]
          EM::Iterator.new(-> { left.shift || EM::Iterator::Stop }).each(proc { |item, step| log :from_proc, item; step.call },
                                                                         proc { log :proc_after })
          it = EM::Iterator.new([1, 2, 3, 4, 5, 6], 1)
          it.each(proc { |n, step| log :grow, n, it.concurrency; it.concurrency = 3 if n == 2; EM.next_tick { step.next } },
                  proc { log :grow_after })
          errors = EM::Iterator.new([1])
          errors.each do |n, step|
            step.next
            begin
              step.next
            rescue RuntimeError => e
              log :twice, e.message
            end
          end
          begin
            errors.each { }
          rescue RuntimeError => e
            log :again, e.message
          end
          EM::Iterator.new([1]).map(proc { |n, step|
            begin
              step.next
            rescue NoMethodError => e
              log :map_next, e.message.lines.first.chomp
            end
            step.return(n)
          }, proc { |r| log :map_after, r })
          [-> { EM::Iterator.new([1], 0) }, -> { EM::Iterator.new(42) }, -> { EM::Iterator.new([1]).each }].each do |bad|
            bad.call
          rescue ArgumentError => e
            log :argument_error, e.message
          end
          EM.add_timer(1.5) { EM.stop }
        end
      RUBY
      expected: [
        ':again "cannot iterate over an iterator more than once"',
        ':argument_error "concurrency must be bigger than zero"',
        ':argument_error "argument must be a proc or an array"',
        ':argument_error "proc or block required for iteration"',
        ':start 4',
        ':instant "a" 1',
        ':from_proc :x',
        ':grow 1 1',
        ':twice "already completed this iteration"',
        ':map_next "must call #return on a map iterator"',
        ':start 1',
        ':instant "b" 2',
        ':instant "c" 2',
        ':from_proc :y',
        ':map_after [1]',
        ':instant "d" 3',
        ':instant "e" 3',
        ':inject 16',
        ':proc_after',
        ':grow 2 1',
        ':grow 3 3',
        ':grow 4 3',
        ':grow 5 3',
        ':grow 6 3',
        ':grow_after',
        ':map [1, 4, 9, 16]',
        ':done 1',
        ':start 2',
        ':done 2',
        ':done 4',
        ':each_after',
        ':exit'
      ]
    },
    "tick_loop and TickLoop: :stop, on_stop, stop, stopped?, double start" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          count = 0
          loop1 = EM.tick_loop do
            count += 1
            log :tick, count
            :stop if count == 3
          end
          log :class, loop1.class, loop1.stopped?
          loop1.on_stop { log :stopped_1, count, loop1.stopped? }
          loop1.on_stop(proc { log :stopped_2 })
          begin
            loop1.start
          rescue ArgumentError => e
            log :double_start, e.message
          end
          worker = Object.new
          def worker.work = log(:method_work)
          loop2 = EM::TickLoop.new(worker, :work)
          log :not_started, loop2.stopped?
          loop2.on_stop { log :on_stop_when_stopped_runs_at_once }
          loop2.start
          EM.next_tick { EM.next_tick { loop2.stop; log :stopped_from_outside, loop2.stopped? } }
          EM.add_timer(0.1) { EM.stop }
        end
      RUBY
      expected: [
        ':class EventMachine::TickLoop false',
        ':double_start "double start"',
        ':not_started true',
        ':on_stop_when_stopped_runs_at_once',
        ':tick 1',
        ':method_work',
        ':tick 2',
        ':method_work',
        ':stopped_from_outside true',
        ':tick 3',
        ':stopped_1 3 true',
        ':stopped_2',
        ':exit'
      ]
    },
    "timers: Integer signatures, cancel_timer forms, max timers, current_time, epoll?/kqueue?, connection_count" => {
      code: <<~'RUBY',
        log :defaults, EM.get_max_timers, EM.epoll?, EM.kqueue?, EM.epoll, EM.kqueue, (EM.epoll = true)
        EM.set_max_timers(3)
        log :minimum, EM.get_max_timers
        EM.set_max_timers(150)
        EM.run do
          watchdog
          sig = EM.add_timer(0.05) { log :never }
          log :signature, sig.class, EM.add_timer(1).inspect, EM.cancel_timer(sig).inspect, EM.cancel_timer(-1).inspect
          fired = EM.add_timer(0.05) { log :fired }
          timer = EM::Timer.new(0.05) { log :timer_never }
          log :cancel_timer_object, EM.cancel_timer(timer).inspect
          periodic = EM.add_periodic_timer(0.02) { log :periodic_never }
          log :periodic, periodic.class, EM.cancel_timer(periodic).inspect
          EM.add_timer(0.1, proc { log :callable_argument; log :cancel_after_fire, EM.cancel_timer(fired).inspect })
          begin
            EM.set_max_timers(500)
          rescue RuntimeError => e
            log :set_inside_run, e.class
          end
          EM.add_timer(0.2) do
            started = EM.current_time
            log :current_time, started.class, EM.connection_count
            EM.add_timer(0.2) do
              log :elapsed, (EM.current_time - started).between?(0.15, 5)
              made = 0
              begin
                200.times { EM.add_timer(5) { }; made += 1 }
              rescue RuntimeError => e
                log :limit, made, e.message.include?("ran out of timers")
              end
              EM.stop
            end
          end
        end
      RUBY
      expected: [
        ':defaults 100000 true false true false true',
        ':minimum 100',
        ':signature Integer "nil" "false" "nil"',
        ':cancel_timer_object "false"',
        ':periodic EventMachine::PeriodicTimer "true"',
        ':set_inside_run RuntimeError',
        ':fired',
        ':callable_argument',
        ':cancel_after_fire "nil"',
        ':current_time Time 0',
        ':elapsed true',
        ':limit 149 true',
        ':exit'
      ]
    },
    "defer with callback and errback, schedule, EM.Callback" => {
      code: <<~'RUBY',
        class Reporter
          def initialize(tag) = @tag = tag
          def report(value) = log(@tag, value, EM.reactor_thread?)
        end
        EM.run do
          watchdog
          main = Thread.current
          # Each defer starts from the previous one's callback: the pool runs operations at
          # once, so their callbacks' order would otherwise be a race (on the real EM too).
          third = -> { EM.defer(proc { 7 }, EM::Callback(Reporter.new(:method_callback), :report)) }
          second = lambda do
            EM.defer(proc { raise IOError, "disk gone" }, proc { log :never },
                     proc { |e| log :errback, e.class, e.message, EM.reactor_thread?; third.call })
          end
          EM.defer(proc { Thread.current == main ? :same_thread : :pool_thread },
                   proc { |r| log :callback, r, EM.reactor_thread?; second.call })
          ran = Thread::Queue.new
          EM.defer { ran << :block_operation }
          log :schedule_now, EM.schedule { :ran_now }
          log :schedule_method, EM.schedule(Thread, :current) == Thread.current
          log :callback_forms, EM.Callback(-> { 1 }).call, EM.Callback { 2 }.call, EM.Callback("abc", :upcase).call
          begin
            EM.Callback
          rescue ArgumentError
            log :callback_needs_something
          end
          # Later than the deferred callbacks (which run as soon as the pool is done), so the
          # order does not depend on how fast the pool's threads start on a busy machine.
          EM.add_timer(0.2) { Thread.new { EM.schedule { log :scheduled_from_thread, EM.reactor_thread? } }.join }
          EM.add_timer(0.4) { log ran.pop; EM.stop }
        end
      RUBY
      expected: [
        ':schedule_now :ran_now',
        ':schedule_method true',
        ':callback_forms 1 2 "ABC"',
        ':callback_needs_something',
        ':callback :pool_thread true',
        ':errback IOError "disk gone" true',
        ':method_callback 7 true',
        ':scheduled_from_thread true',
        ':block_operation',
        ':exit'
      ]
    }
  }

  scenarios.transform_values! { |scenario| scenario.merge(code: head + scenario[:code]) }
  include_examples "side-by-side scenarios", scenarios,
                   "behaves as EventMachine on the stand-in" => [:none, { "EM_IMPL" => "standin" }, false],
                   "prints the same on the real EventMachine" => [:none, { "EM_IMPL" => "real" }, true]
end
