# frozen_string_literal: true

require "spec_helper"

# Drop-in and EventMachine stand-in behaviour that has no faye counterpart to compare with (our
# additions and deliberate differences), or that needs the TLS edge or a proxy.
RSpec.describe "faye drop-in and EventMachine stand-in, beyond the side-by-side scenarios" do
  let(:port) { Support::TestServer.instance.port }
  let(:nginx) { Support::Nginx.instance }
  let(:env) { { "NGINX_PORT" => nginx.port.to_s, "CA_FILE" => Support::PKI.instance.ca_file } }

  def run_native(code, impl: :native, raw: false)
    Support::Compat.run(impl, code, port: port, env: env, raw: raw)
  end

  it "refuses to load after the real faye-websocket, and says what to do" do
    skip "ruby-faye-websocket is not installed" unless Support::Compat.faye_available?
    out = run_native(<<~'RUBY', impl: :none)
      require "eventmachine"
      require "faye/websocket"
      begin
        require "websocket/native/faye"
      rescue LoadError => e
        log e.message[/\Afaye-websocket is already loaded.*?instead of loading both/m] ? :clear : e.message
      end
    RUBY
    expect(out).to eq([":clear", ":exit"])
  end

  it "answers a later require \"faye/websocket\" with the drop-in" do
    out = run_native(<<~'RUBY')
      log require("faye/websocket"), Faye::WebSocket::NATIVE_DROP_IN, defined?(EventMachine::Timer).to_s
    RUBY
    expect(out).to eq(['false true "constant"', ":exit"])
  end

  it "reports a bad URL or option as faye does (error, close 1006), with our words" do
    out = run_native(<<~'RUBY')
      EM.run do
        ws = Faye::WebSocket::Client.new(url("/echo"), nil, timeout: 3)
        log :state, ws.ready_state, ws.send("x")
        ws.on(:error) { |e| log :error, e.message, e.error.class }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out[0]).to eq(":state 3 false")
    expect(out[1]).to start_with(':error "unknown option :timeout; faye-websocket options are')
    expect(out[1]).to end_with("WebSocket::Native::ConfigurationError")
    expect(out[2..]).to eq([":close 1006", ":exit"])
  end

  it "connects through the SNI edge with faye's tls options, ignoring (and naming) unknown ones" do
    out = run_native(<<~'RUBY', raw: true)
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new("wss://127.0.0.1:#{ENV['NGINX_PORT']}/echo", nil,
          tls: { root_cert_file: ENV["CA_FILE"], sni_hostname: "app.test", verify_peer: true, cipher_list: "HIGH" })
        ws.on(:open) { ws.send("tls ok") }
        ws.on(:message) { |e| log :got, e.data; ws.close }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out).to eq([
      "websocket-native (faye drop-in): tls option :cipher_list ignored: rustls picks TLS 1.2/1.3 and modern cipher suites itself",
      ':got "tls ok"', ":close 1000", ":exit"
    ])
  end

  it "presents a client certificate from cert_chain_file and private_key_file" do
    cert, key = Support::PKI.instance.client_cert("faye-site")
    out = run_native(<<~RUBY)
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new("wss://127.0.0.1:#{nginx.port}/echo", nil,
          tls: { root_cert_file: ENV["CA_FILE"], sni_hostname: "mtls.test", cert_chain_file: "#{cert}", private_key_file: "#{key}" })
        ws.on(:open) { log :open; ws.close }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out).to eq([":open", ":close 1000", ":exit"])
  end

  it "uses the proxy option (proxy tls: is ignored for an http:// proxy, as faye does, and silently)" do
    proxy = Support::ConnectProxy.new
    out = run_native(<<~RUBY, raw: true)
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/hello"), nil,
          proxy: { origin: "#{proxy.url}", headers: { "User-Agent" => "site" }, tls: { verify_peer: false } })
        ws.on(:message) { |e| log :got, e.data; ws.close }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out).to eq([':got "hello"', ":close 1000", ":exit"])
    expect(proxy.requests.pop).to include("User-Agent: site")
  ensure
    proxy&.stop
  end

  it "names an https proxy it cannot reach (error, close 1006) and never connects directly" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/hello"), nil, proxy: { origin: "https://127.0.0.1:#{REFUSED}", tls: { verify_peer: false } })
        ws.on(:open) { log :connected_directly }
        ws.on(:error) { |e| log :error, e.message.start_with?("could not reach the proxy 127.0.0.1:#{REFUSED} (the proxy: option)") }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out).to eq([":error true", ":close 1006", ":exit"])
  end

  it "queues without a limit by default, as faye did (send never raises); send_limit: is opt-in" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog
        chunk = "x" * (1024 * 1024)
        plain = Faye::WebSocket::Client.new(url("/deaf"))
        plain.on(:open) do
          log :plain, (1..40).map { plain.send(chunk) }.uniq
          limited = Faye::WebSocket::Client.new(url("/deaf"), nil, send_limit: 2 * 1024 * 1024)
          limited.on(:open) do
            # The kernel's socket buffers take a few MB first (autotuning varies
            # with load), so send until refused, with a bound.
            begin
              64.times { limited.send(chunk) }
              log :limited, :never_refused
            rescue WebSocket::Native::BufferFullError
              log :limited, :buffer_full
            end
            EM.stop
          end
        end
      end
    RUBY
    expect(out).to eq([":plain [true]", ":limited :buffer_full", ":exit"])
  end

  it "refuses to send a String that is not valid UTF-8 (faye sent an invalid text frame); binary_strings: true sends it as binary" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog
        text = Faye::WebSocket::Client.new(url("/echo"))
        text.on(:open) do
          begin
            text.send("\xff\xfe".b)
          rescue ArgumentError => e
            log :raised, e.message
          end
          text.close
          # Only now: two clients opening at once would log in whichever order they connect.
          binary = Faye::WebSocket::Client.new(url("/echo"), nil, binary_strings: true)
          binary.on(:open) { binary.send("\xff\xfe".b); binary.send("text") }
          binary.on(:message) { |e| log :echo, e.data; binary.close if e.data == "text" }
          binary.on(:close) { EM.stop }
        end
      end
    RUBY
    expect(out).to eq([
      ':raised "send: this BINARY String is not valid UTF-8, and the faye drop-in sends Strings as text as ' \
      "faye-websocket 0.11 does; send message.bytes for a binary frame, or pass binary_strings: true to send " \
      'BINARY Strings as binary"',
      ":echo [255, 254]", ':echo "text"', ":exit"
    ])
  end

  it "has no server side: Faye::WebSocket.new(env), websocket?, EventSource and Client#write raise and say why" do
    out = run_native(<<~'RUBY')
      env = { "REQUEST_METHOD" => "GET", "HTTP_UPGRADE" => "websocket" }
      [-> { Faye::WebSocket.new(env) }, -> { Faye::WebSocket.websocket?(env) }, -> { Faye::EventSource.new(env) },
       -> { Faye::EventSource.eventsource?(env) }].each do |call|
        call.call
      rescue NotImplementedError => e
        log e.message[/\A.*? serves/], e.message.include?("keep the real faye-websocket (require \"faye/websocket\") for the server")
      end
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/echo"))
        begin
          ws.write("raw")
        rescue NotImplementedError => e
          log :write, e.message[/use #send/]
        end
        log Faye::WebSocket.load_adapter("thin"), Faye::WebSocket::SSLError.ancestors.include?(OpenSSL::SSL::SSLError)
        ws.on(:close) { EM.stop }
        ws.close
      end
    RUBY
    expect(out).to eq(['"Faye::WebSocket.new(env) serves" true', '"Faye::WebSocket.websocket?(env) serves" true',
                       '"Faye::EventSource.new(env) serves" true', '"Faye::EventSource.eventsource?(env) serves" true',
                       ':write "use #send"', "nil true", ":exit"])
  end

  it "with the real EventMachine, hands each batch of events to EM in one scheduled block, in order" do
    skip "ruby-eventmachine is not installed" unless Support::Compat.faye_available?
    out = run_native(<<~'RUBY', impl: :native_em)
      ticks = 0
      EM.singleton_class.prepend(Module.new { define_method(:next_tick) { |*a, &b| ticks += 1; super(*a, &b) } })
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/send?count=200"))
        ws.on(:open) { sleep 0.5 } # EM is busy while the 200 messages arrive
        got = []
        ws.on(:message) do |e|
          got << e.data[/\d+/].to_i
          next unless got.size == 200

          log :in_order, got == (0...200).to_a
          log :few_ticks, ticks < 20
          ws.close
        end
        ws.on(:close) { EM.stop }
      end
    RUBY
    expect(out).to eq([":in_order true", ":few_ticks true", ":exit"])
  end

  it "pings every `ping:` seconds with counting payloads, and offers binary_data_format: :string" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/pings"), nil, ping: 0.1, binary_data_format: :string)
        seen = []
        ws.on(:open) { ws.send([1, 2, 255]) }
        ws.on(:message) do |e|
          seen << (e.data.encoding == Encoding::BINARY ? e.data.bytes : e.data)
          ws.close if seen.size == 3
        end
        ws.on(:close) { log(*seen); EM.stop }
      end
    RUBY
    expect(out).to eq(['[1, 2, 255] "ping 1" "ping 2"', ":exit"])
  end

  it "says once that extensions are not implemented" do
    out = run_native(<<~'RUBY', raw: true)
      Ext = Struct.new(:name)
      EM.run do
        watchdog
        2.times { Faye::WebSocket::Client.new(url("/echo"), nil, extensions: [Ext.new("permessage-deflate")]) }
        EM.add_timer(0.2) { EM.stop }
      end
    RUBY
    expect(out).to eq([
      "websocket-native (faye drop-in): WebSocket extensions are not implemented (permessage-deflate); " \
      "messages are sent and received uncompressed", ":exit"
    ])
  end

  it "EM stand-in: error_handler, defer errback, stopping?, nested run and run_block" do
    out = run_native(<<~'RUBY')
      EM.error_handler { |e| log :handled, e.message }
      EM.run do
        EM.next_tick { raise "in a tick" }
        EM.defer(-> { raise "in defer" }, ->(_) { log :never }, ->(e) { log :errback, e.message })
        EM.run { log :nested, EM.reactor_running? }
        EM.add_timer(0.2) do
          EM.stop_event_loop
          log :stopping, EM.stopping?
        end
      end
      log :after, EM.reactor_running?
      EM.run_block { log :block }
    RUBY
    expect(out).to eq([":nested true", ':handled "in a tick"', ':errback "in defer"', ":stopping true",
                       ":after false", ":block", ":exit"])
  end

  it "EM stand-in: without an error handler a callback's exception leaves EM.run" do
    out = run_native(<<~'RUBY')
      begin
        EM.run { EM.defer(-> { raise "lost in defer" }) }
      rescue RuntimeError => e
        log :raised, e.message
      end
    RUBY
    expect(out).to eq([':raised "lost in defer"', ":exit"])
  end

  it "a refused close (reason too long) leaves the faye client open and usable" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog
        ws = Faye::WebSocket::Client.new(url("/echo"))
        ws.on(:open) do
          begin
            ws.close(1000, "x" * 200)
          rescue ArgumentError => e
            log :raised, e.message
          end
          log :state, ws.ready_state, ws.send("still open")
        end
        ws.on(:message) { |e| log :got, e.data; ws.close }
        ws.on(:close) { |e| log :close, e.code; EM.stop }
      end
    RUBY
    expect(out).to eq([':raised "close reason is at most 123 bytes, not 200"', ":state 1 true",
                       ':got "still open"', ":close 1000", ":exit"])
  end

  it "EM stand-in: next_tick and add_timer before EM.run wait for it, as in EventMachine" do
    out = run_native(<<~'RUBY')
      EM.next_tick { log :tick, EM.reactor_running?, Thread.current == Thread.main; EM.stop }
      EM.add_timer(0.05) { log :never_before_run }
      sleep 0.2
      log :before_run
      EM.run { log :run_block }
      log :returned
    RUBY
    expect(out).to eq([":before_run", ":run_block", ":tick true true", ":returned", ":exit"])
  end

  it "EM stand-in: deferred jobs that wait on each other each get a pool thread" do
    out = run_native(<<~'RUBY')
      EM.run do
        watchdog(5)
        EM.defer { :warm_up }
        EM.add_timer(0.2) do
          handoff = Queue.new
          EM.defer(-> { handoff.pop }, ->(value) { log :a_got, value; EM.stop })
          EM.defer { handoff << :from_b }
        end
      end
    RUBY
    expect(out).to eq([":a_got :from_b", ":exit"])
  end
end
