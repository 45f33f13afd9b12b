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
          log :early, ws.send("one"), ws.send("two"), ws.ping("p1") { log :pong, EM.reactor_thread? }
          got = []
          ws.on(:message) do |e|
            got << e.data
            ws.close if got.size == 2
          end
          ws.on(:close) { log :got, got; EM.stop }
        end
      RUBY
      expected: [":early true true true", ":pong true", ':got ["one", "two"]', ":exit"]
    },
    # The pong answers a ping sent after open, so it arrives after the three messages: when the
    # listeners are attached, the messages can only have been kept.
    "events dispatched before any listener are kept, and all go to the first listener attached" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/send?count=3"))
          ws.on(:open) do
            ws.ping("after the messages") do
              log :pong
              ws.on(:message) do |e|
                log :first, e.data
                ws.close if e.data == "message 2"
              end
              ws.on(:message) { |e| log :second, e.data }
            end
          end
          ws.on(:close) { log :counts, ws.listener_count(:message); EM.stop }
        end
      RUBY
      expected: [":pong", ':first "message 0"', ':first "message 1"', ':first "message 2"', ":counts 2", ":exit"]
    },
    "kept events go to an on<type> handler set later, and not to listeners added after it" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/send?count=2"))
          ws.on(:open) do
            ws.ping do
              ws.onmessage = lambda do |e|
                log :handler, e.data
                ws.close if e.data == "message 1"
              end
              ws.add_event_listener("message", ->(e) { log :listener, e.data })
            end
          end
          ws.on(:close) { EM.stop }
        end
      RUBY
      expected: [':handler "message 0"', ':handler "message 1"', ":exit"]
    },
    "listener forms: on(type, callable), add_listener, remove_*, listeners, listener_count, emit, dispatch_event" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          a = ->(e) { log :a, e.data }
          b = proc { |e| log :b, e.data }
          ws.on(:message, a)
          ws.add_listener("message", b)
          ws.add_listener(:message) { |e| log :block, e.data }
          ws.add_event_listener("close", ->(e) { log :close, e.code; EM.stop })
          ws.on(:open) do
            log :counts, ws.listener_count(:message), ws.listeners("message").size, ws.listener_count(:error)
            ws.send("one")
          end
          ws.on(:message) do |e|
            case e.data
            when "one"
              ws.remove_event_listener("message", nil)
              ws.remove_listener("message")
              log :after_nil, ws.listener_count("message")
              log :removed, ws.remove_listener(:message, a) == a
              ws.remove_event_listener("message", b)
              log :after_remove, ws.listener_count("message")
              ws.send("two")
            when "two"
              ws.emit("message", Faye::WebSocket::API::Event.create("message", data: "emitted"))
              ws.dispatch_event(Faye::WebSocket::API::Event.create("message", data: "dispatched"))
              ws.remove_all_listeners("message")
              log :after_all, ws.listener_count("message")
              ws.close
            end
          end
        end
      RUBY
      expected: [
        ":counts 4 4 0", ':a "one"', ':b "one"', ':block "one"', ":after_nil 4", ":removed true", ":after_remove 2",
        ':block "two"', ':block "emitted"', ':block "dispatched"', ":after_all 0", ":close 1000", ":exit"
      ]
    },
    "a String goes as text whatever its encoding; an Array as binary" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/echo"))
          ws.on(:open) { ws.send("h\u00e9llo".b); ws.send("bytes".encode("UTF-16LE").encode("UTF-8")); ws.send([0, 255]) }
          got = []
          ws.on(:message) do |e|
            got << [e.data, e.data.class.name]
            ws.close if got.size == 3
          end
          ws.on(:close) { log(*got); EM.stop }
        end
      RUBY
      expected: ['["héllo", "String"] ["bytes", "String"] [[0, 255], "Array"]', ":exit"]
    },
    "ping: only sends pings; a link that answers none stays open" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          ws = Faye::WebSocket::Client.new(url("/deaf"), nil, ping: 0.1)
          ws.on(:open) { log :open; EM.add_timer(1) { log :state, ws.ready_state; EM.stop } }
          ws.on(:close) { |e| log :close, e.code }
        end
      RUBY
      expected: [":open", ":state 1", ":close 1006", ":exit"]
    },
    "proxy: { origin: nil } or false means no proxy" => {
      code: <<~'RUBY',
        EM.run do
          watchdog
          # One after the other: two connections' events have no defined order between them.
          try = lambda do |origins|
            origin = origins.shift
            next EM.stop if origin == :done

            ws = Faye::WebSocket::Client.new(url("/hello"), nil, proxy: { origin: origin })
            ws.on(:message) { |e| log origin, e.data; ws.close }
            ws.on(:close) { |e| log origin, e.code; try.call(origins) }
          end
          try.call([nil, false, :done])
        end
      RUBY
      expected: ['nil "hello"', "nil 1000", 'false "hello"', "false 1000", ":exit"]
    },
    "a pinned CA (tls root_cert_file) refuses a server that only the system roots trust" => {
      env: -> { pinning_env },
      code: <<~'RUBY',
        EM.run do
          watchdog
          target = "wss://localhost:#{ENV['PUBLIC_PORT']}/hello"
          pinned = Faye::WebSocket::Client.new(target, nil, tls: { root_cert_file: ENV["CA_FILE"] })
          pinned.on(:error) { log :pinned, :error }
          pinned.on(:close) do |e|
            log :pinned, :close, e.code
            system_roots = Faye::WebSocket::Client.new(target)
            system_roots.on(:message) { |m| log :system_roots, m.data; system_roots.close }
            system_roots.on(:close) { |c| log :system_roots, :close, c.code; EM.stop }
          end
        end
      RUBY
      expected: [":pinned :error", ":pinned :close 1006", ':system_roots "hello"', ":system_roots :close 1000", ":exit"]
    },
    "an https proxy checked with its own tls options: refused when untrusted, used when trusted" => {
      env: -> { tls_proxy_env },
      code: <<~'RUBY',
        EM.run do
          watchdog
          untrusted = Faye::WebSocket::Client.new(url("/hello"), nil, proxy: { origin: ENV["PROXY"], tls: { root_cert_file: ENV["OTHER_CA_FILE"] } })
          untrusted.on(:open) { log :connected_anyway }
          untrusted.on(:error) { log :untrusted, :error }
          untrusted.on(:close) do |e|
            log :untrusted, :close, e.code
            ws = Faye::WebSocket::Client.new(url("/hello"), nil, proxy: { origin: ENV["PROXY"], tls: { root_cert_file: ENV["CA_FILE"] } })
            ws.on(:message) { |m| log :got, m.data; ws.close }
            ws.on(:close) { |c| log :close, c.code; EM.stop }
          end
        end
      RUBY
      expected: [":untrusted :error", ":untrusted :close 1006", ':got "hello"', ":close 1000", ":exit"]
    },
    "module surface: constants, event classes, public methods, ensure_reactor_running, load_adapter" => {
      code: <<~'RUBY',
        log Faye::WebSocket::Client::DEFAULT_PORTS, Faye::WebSocket::API::CLOSE_TIMEOUT, Faye::WebSocket::API::Event::AT_TARGET
        log Faye::WebSocket::API::TYPES.map { |type, klass| [type, klass.name, klass.superclass.name] }
        log %i[on add_listener add_event_listener remove_listener remove_event_listener remove_all_listeners listeners
               listener_count emit dispatch_event write send ping close].reject { |m| Faye::WebSocket::Client.public_method_defined?(m) }
        log %i[flush event_buffers].map { |m| Faye::WebSocket::Client.private_method_defined?(m) }
        log Faye::WebSocket.respond_to?(:load_adapter), Faye::WebSocket.respond_to?(:websocket?)
        Faye::WebSocket.ensure_reactor_running
        log :running, EM.reactor_running?, EM.reactor_thread?
        got = Queue.new
        EM.schedule do
          ws = Faye::WebSocket::Client.new(url("/hello"))
          ws.on(:message) { |e| got << e.data; ws.close }
          ws.on(:close) { |e| got << e.code }
        end
        log got.pop, got.pop
      RUBY
      expected: [
        '{"http"=>80, "https"=>443, "ws"=>80, "wss"=>443} 30 2',
        '[["open", "Faye::WebSocket::API::OpenEvent", "Faye::WebSocket::API::Event"], ' \
        '["message", "Faye::WebSocket::API::MessageEvent", "Faye::WebSocket::API::Event"], ' \
        '["close", "Faye::WebSocket::API::CloseEvent", "Faye::WebSocket::API::Event"], ' \
        '["error", "Faye::WebSocket::API::ErrorEvent", "Faye::WebSocket::API::Event"]]',
        "[]", "[true, true]", "true true", ":running true false", '"hello" 1000', ":exit"
      ]
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

  # The second test CA plays the system roots (SSL_CERT_FILE); nginx's public port has its certificate.
  def pinning_env
    pki = Support::PKI.instance
    { "SSL_CERT_FILE" => pki.other_ca_file, "CA_FILE" => pki.ca_file, "PUBLIC_PORT" => Support::Nginx.instance.public_port.to_s }
  end

  # An https:// CONNECT proxy whose certificate the test CA signed.
  def tls_proxy_env
    @tls_proxy = Support::ConnectProxy.new(tls: true)
    pki = Support::PKI.instance
    { "PROXY" => @tls_proxy.url, "CA_FILE" => pki.ca_file, "OTHER_CA_FILE" => pki.other_ca_file }
  end

  after { @tls_proxy&.stop }

  scenarios.each do |name, scenario|
    describe name do
      let(:expected) { scenario[:expected].map { |l| l.gsub("PORT", port.to_s) } }
      let(:env) { scenario[:env] ? instance_exec(&scenario[:env]) : {} }

      it "behaves as expected with the built-in EventMachine" do
        expect(Support::Compat.run(:native, scenario[:code], port: port, env: env)).to eq(expected)
      end

      it "behaves the same with the real EventMachine loaded" do
        skip "ruby-eventmachine is not installed" unless Support::Compat.faye_available?
        expect(Support::Compat.run(:native_em, scenario[:code], port: port, env: env)).to eq(expected)
      end

      it "matches the real faye-websocket" do
        skip "ruby-faye-websocket is not installed" unless Support::Compat.faye_available?
        expect(Support::Compat.run(:faye, scenario[:code], port: port, env: env)).to eq(expected)
      end
    end
  end
end
