# frozen_string_literal: true

require "spec_helper"

# Site programs that drive faye clients with EventMachine's Deferrable, Channel, Queue, Iterator,
# tick_loop, defer and timers. They run against the drop-in on the stand-in, the drop-in on the
# real EventMachine and the real faye-websocket 0.11 + EventMachine, and must print `expected`.
RSpec.describe "EventMachine stand-in: EM APIs with faye clients against the echo server" do
  scenarios = {
    "one client: Deferrable with a timeout for the open, Queue of words, Channel of echoes, Iterator waiting for each echo, defer, cancelled timer" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          opened = EM::DefaultDeferrable.new
          opened.timeout(5, :no_open_within_5_s)
          opened.errback { |why| log :failed, why; EM.stop }
          ws.on(:open) { opened.succeed(ws.url) }
          echoes = EM::Channel.new
          ws.on(:message) { |e| echoes << e.data }
          echoes.subscribe { |m| log :echo, m, EM.reactor_thread? }

          # Queue: three words queued before the connection opens, sent once it does.
          outbox = EM::Queue.new
          outbox.push("one", "two", "three")
          opened.callback do |address|
            log :opened, address.end_with?("/echo"), outbox.size
            sender = proc { |word| ws.send(word); outbox.pop(&sender) unless outbox.empty? }
            outbox.pop(&sender)
          end

          # Iterator: after "three" comes back, one word at a time, each waiting for its echo.
          echoes.pop do |first|
            log :first_echo, first
          end
          started = false
          echoes.subscribe do |m|
            next unless m == "three" && !started

            started = true
            EM::Iterator.new(%w[alpha beta gamma]).each(proc { |word, step|
              id = echoes.subscribe { |echo| (echoes.unsubscribe(id); step.next) if echo == word }
              ws.send(word)
            }, proc {
              # Defer: work on a pool thread; its result goes out from the reactor thread.
              EM.defer(proc { "computed #{6 * 7}" }, proc { |r| ws.send(r) })
            })
          end

          # Timers: a cancelled signature never fires; the close waits for a short timer.
          echoes.subscribe do |m|
            next unless m.start_with?("computed")

            never = EM.add_timer(0.05) { log :never }
            log :cancel, EM.cancel_timer(never).inspect
            EM::Timer.new(0.1) { ws.close }
          end
          ws.on(:close) { |e| log :close, e.code, echoes.num_subscribers; EM.stop }
        end
      RUBY
      expected: [
        ':opened true 3',
        ':echo "one" true',
        ':first_echo "one"',
        ':echo "two" true',
        ':echo "three" true',
        ':echo "alpha" true',
        ':echo "beta" true',
        ':echo "gamma" true',
        ':echo "computed 42" true',
        ':cancel "false"',
        ':close 1000 3',
        ':exit'
      ]
    },
    "two clients fed by one Channel once a tick_loop sees both open; a Deferrable timeout gives up on a silent server" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          closed = []
          gave_up = false
          finish = -> { EM.stop if closed.size == 2 && gave_up }

          # A Deferrable with a timeout gives up on a server that never answers the handshake.
          slow = Faye::WebSocket::Client.new(url("/silent?seconds=5"))
          ready = EM::DefaultDeferrable.new
          slow.on(:open) { ready.succeed }
          ready.timeout(1, :gave_up)
          ready.errback { |why| log :slow, why, slow.ready_state; gave_up = true; finish.call }

          # One Channel feeds two clients; a tick loop waits until both are open.
          feed = EM::Channel.new
          got = [[], []]
          Array.new(2) { Faye::WebSocket::Client.new(url("/echo")) }.each_with_index do |client, i|
            client.on(:open) { feed.subscribe { |m| client.send("#{i}:#{m}") } }
            client.on(:message) do |e|
              got[i] << e.data
              client.close if got[i].size == 3
            end
            client.on(:close) do |e|
              closed << [i, e.code, got[i]]
              log :closed, *closed.sort if closed.size == 2
              finish.call
            end
          end
          EM.tick_loop do
            next unless feed.num_subscribers == 2

            log :both_open
            feed.push(:a, :b)
            feed << :c
            :stop
          end
        end
      RUBY
      expected: [
        ':both_open',
        ':closed [0, 1000, ["0:a", "0:b", "0:c"]] [1, 1000, ["1:a", "1:b", "1:c"]]',
        ':slow :gave_up 0',
        ':exit'
      ]
    }
  }

  include_examples "side-by-side scenarios", scenarios,
                   "behaves as expected with the built-in EventMachine" => [:native, {}, false],
                   "behaves the same with the real EventMachine loaded" => [:native_em, {}, true],
                   "matches the real faye-websocket" => [:faye, {}, true]
end
