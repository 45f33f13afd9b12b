# frozen_string_literal: true

require "spec_helper"

# Each scenario is site code written for faye-websocket. It runs against our drop-in (with the
# built-in EventMachine and with the real one) and must print exactly `expected`; where the real
# faye-websocket is installed it runs there too and must print the same. Close reasons of
# failures are normalised to "<reason>" (ours carry the cause; faye's were empty or terse).
RSpec.describe "Faye::WebSocket::Client drop-in" do
  scenarios = {
    "echo: text, binary as an Array of bytes, client close" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          log :state, ws.ready_state, ws.protocol, ws.status.inspect, ws.version, ws.url
          trace(ws)
          ws.on(:open) { log :send, ws.send("hello"), ws.send([104, 105]), ws.send(42) }
          ws.on(:message) { |e| ws.close if e.data == "42" }
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: [
        ':state 0 "" "nil" "hybi-13" "ws://127.0.0.1:PORT/echo"',
        '"ws" "open" 1', ":send true true true",
        '"ws" "message" "hello" 1', '"ws" "message" [104, 105] 1', '"ws" "message" "42" 1',
        '"ws" "close" 1000 "" 3', ":exit"
      ]
    },
    "close with a code and reason, and faye's argument check" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          trace(ws)
          ws.on(:open) do
            begin
              ws.close(1001)
            rescue ArgumentError => e
              log :raised, e.message
            end
            log :close, ws.close(4000, "custom reason"), ws.ready_state, ws.close(4000), ws.send("late")
          end
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: [
        '"ws" "open" 1',
        ":raised \"Failed to execute 'close' on WebSocket: The code must be either 1000, or between 3000 and 4999. 1001 is neither.\"",
        ":close true 2 false false", '"ws" "close" 4000 "custom reason" 3', ":exit"
      ]
    },
    "server-initiated close" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/close?code=4001&reason=bye"))
          trace(ws)
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "open" 1', '"ws" "close" 4001 "bye" 3', ":exit"]
    },
    "link dropped after open: close 1006 and no error event" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/drop?ms=50"))
          trace(ws)
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "open" 1', '"ws" "close" 1006 "<reason>" 3', ":exit"]
    },
    "failed handshake: error, then close 1002" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/status?code=404"))
          trace(ws)
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "error" 0', '"ws" "close" 1002 "<reason>" 3', ":exit"]
    },
    "connection refused: error, then close 1006" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new("ws://127.0.0.1:#{REFUSED}/")
          trace(ws)
          ws.on(:error) { |e| log :message_is_text, e.message.to_s.empty? ? "empty" : "text" }
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "error" 0', ':message_is_text "text"', '"ws" "close" 1006 "<reason>" 3', ":exit"]
    },
    "invalid UTF-8 from the server: close 1007" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/invalid-utf8"))
          trace(ws)
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "open" 1', '"ws" "error" 1', '"ws" "close" 1007 "<reason>" 3', ":exit"]
    },
    "a message over max_length: close 1009" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/big?size=100"), nil, max_length: 10)
          trace(ws)
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: ['"ws" "open" 1', '"ws" "error" 1', '"ws" "close" 1009 "<reason>" 3', ":exit"]
    },
    "subprotocols, headers and the response headers" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/headers"), "b, a", headers: { "X-Site" => "north-7", "X-Nil" => nil })
          ws.on(:message) do |e|
            lines = e.data.split("\n")
            log :sent, lines.grep(/\A(X-|Sec-WebSocket-Protocol)/).sort
            log :protocol, ws.protocol, ws.status, ws.headers["X-Test-Server"], ws.headers["x_test_server"]
            ws.close
          end
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: [
        ':sent ["Sec-WebSocket-Protocol: b, a", "X-Site: north-7"]',
        ':protocol "b" 101 "websocket-native" "websocket-native"', ":exit"
      ]
    },
    "messages sent before open are queued; ping with a callback" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          log :early, ws.send("one"), ws.send("two"), ws.ping("p1") { log :pong }
          got = []
          ws.on(:message) do |e|
            got << e.data
            ws.close if got.size == 2
          end
          ws.on(:close) { log :got, got; EM.stop }
        end
      RUBY
      expected: [":early true true true", ":pong", ':got ["one", "two"]', ":exit"]
    },
    "events wait for their first listener" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/send?count=3"))
          ws.on(:open) { log :open }
          EM.add_timer(0.5) do
            ws.onmessage = lambda do |e|
              log :late, e.data
              ws.close if e.data == "message 2"
            end
          end
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: [":open", ':late "message 0"', ':late "message 1"', ':late "message 2"', ":exit"]
    },
    "add_event_listener, remove_event_listener and the on<type> handler first" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/send?count=2"))
          first = ->(e) { log :listener, e.data }
          ws.add_event_listener("message", first)
          ws.onmessage = ->(e) { log :handler, e.data }
          ws.on(:message) do |e|
            ws.remove_event_listener("message", first)
            ws.close if e.data == "message 1"
          end
          ws.onclose = ->(e) { log :closed, e.code; EM.stop }
        end
      RUBY
      expected: [':handler "message 0"', ':listener "message 0"', ':handler "message 1"', ":closed 1000", ":exit"]
    },
    "constants" => {
      code: <<~'RUBY',
        log Faye::WebSocket::API::CONNECTING, Faye::WebSocket::API::OPEN, Faye::WebSocket::API::CLOSING,
            Faye::WebSocket::API::CLOSED, Faye::WebSocket::Client::OPEN, Faye::WebSocket::API::MessageEvent.name
      RUBY
      expected: ['0 1 2 3 1 "Faye::WebSocket::API::MessageEvent"', ":exit"]
    },
    "EM.stop with a connection open closes it with 1006 before run returns" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          ws.on(:open) { log :open; EM.stop }
          ws.on(:close) { |e| log :close, e.code, ws.ready_state }
        end
        log :returned
      RUBY
      expected: [":open", ":close 1006 3", ":returned", ":exit"]
    },
    "site code: a reconnect loop with EM.add_timer in on(:close)" => {
      code: <<~'RUBY',
        attempts = 0
        connect = lambda do
          attempts += 1
          target = attempts < 3 ? "ws://127.0.0.1:#{REFUSED}/" : url("/hello")
          ws = Faye::WebSocket::Client.new(target)
          ws.on(:message) { |e| log :message, attempts, e.data; ws.close }
          ws.on(:close) do |e|
            log :close, attempts, e.code
            attempts < 3 ? EM.add_timer(0.1) { connect.call } : EM.stop
          end
        end
        EM.run { watchdog; connect.call }
      RUBY
      expected: [":close 1 1006", ":close 2 1006", ':message 3 "hello"', ":close 3 1000", ":exit"]
    },
    "site code: a heartbeat with EM.add_periodic_timer" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          beats = 0
          timer = nil
          ws.on(:open) { timer = EM.add_periodic_timer(0.05) { ws.send("beat #{beats += 1}") } }
          ws.on(:message) do |e|
            log :echo, e.data
            if e.data == "beat 3"
              timer.cancel
              EM.add_timer(0.2) { ws.close }
            end
          end
          ws.on(:close) { log :beats, beats; EM.stop }
        end
      RUBY
      expected: [':echo "beat 1"', ':echo "beat 2"', ':echo "beat 3"', ":beats 3", ":exit"]
    },
    "site code: reactor in a background thread, sends from the main thread" => {
      code: <<~'RUBY',
        reactor = Thread.new { EM.run }
        Thread.pass until EM.reactor_running?
        opened = Queue.new
        got = Queue.new
        ws = nil
        EM.schedule do
          ws = Faye::WebSocket::Client.new(url("/echo"))
          ws.on(:open) { opened << true }
          ws.on(:message) { |e| got << [e.data, EM.reactor_thread?] }
          ws.on(:close) { |e| got << [:close, e.code] }
        end
        opened.pop
        3.times { |i| ws.send("from main #{i}") }
        3.times { log(*got.pop) }
        EM.next_tick { ws.close }
        log(*got.pop)
        EM.stop
        reactor.join
        log :reactor_running, EM.reactor_running?
      RUBY
      expected: [
        '"from main 0" true', '"from main 1" true', '"from main 2" true', ":close 1000",
        ":reactor_running false", ":exit"
      ]
    },
    "site code: a script that never closes and exits via EM.stop" => {
      code: <<~'RUBY',
        EM.run do
          ws = Faye::WebSocket::Client.new(url("/echo"))
          ws.on(:open) { ws.send("last words") }
          ws.on(:message) { |e| log :got, e.data; EM.stop }
        end
      RUBY
      expected: [':got "last words"', ":exit"]
    },
    "timers: add_timer, cancel_timer, Timer, PeriodicTimer#interval=, next_tick order, defer" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          EM.next_tick { log :tick1 }
          EM.next_tick { log :tick2 }
          cancelled = EM.add_timer(0.05) { log :never }
          EM.cancel_timer(cancelled)
          EM::Timer.new(0.1) { log :timer }
          count = 0
          periodic = EM::PeriodicTimer.new(0.15) do
            count += 1
            periodic.interval = 0.05
            if count == 3
              periodic.cancel
              EM.defer(-> { 6 * 7 }, ->(r) { log :deferred, r, EM.reactor_thread?; EM.stop })
            end
          end
        end
      RUBY
      expected: [":tick1", ":tick2", ":timer", ":deferred 42 true", ":exit"]
    }
  }

  let(:port) { Support::TestServer.instance.port }

  scenarios.each do |name, scenario|
    describe name do
      let(:expected) { scenario[:expected].map { |l| l.gsub("PORT", port.to_s) } }

      it "behaves as expected with the built-in EventMachine" do
        expect(Support::Compat.run(:native, scenario[:code], port: port)).to eq(expected)
      end

      it "behaves the same with the real EventMachine loaded" do
        skip "ruby-eventmachine is not installed" unless Support::Compat.faye_available?
        expect(Support::Compat.run(:native_em, scenario[:code], port: port)).to eq(expected)
      end

      it "matches the real faye-websocket" do
        skip "ruby-faye-websocket is not installed" unless Support::Compat.faye_available?
        expect(Support::Compat.run(:faye, scenario[:code], port: port)).to eq(expected)
      end
    end
  end
end
