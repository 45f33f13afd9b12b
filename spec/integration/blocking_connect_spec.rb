# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"

RSpec.describe "WebSocket::Native.connect" do
  include Support::Blocking

  let(:server) { Support::TestServer.instance }

  # The :error event a callback client reports for the same URL: [message, class].
  def error_event_for(url, **options)
    _, log = record(url, **options)
    error = log.find { |e| e.first == :error }
    expect(error).not_to be_nil, "expected an :error event, got #{log.inspect}"
    error[1..2]
  end

  # connect must raise the class of the :error event, with exactly its words.
  def expect_same_failure(url, klass, **options)
    message, event_class = error_event_for(url, **options)
    expect(event_class).to eq(klass)
    expect { Timeout.timeout(15) { WebSocket::Native.connect(url, **options) } }
      .to raise_error(klass) { |e| expect(e.message).to eq(message) }
    message
  end

  it "returns the client once open, with the upgrade's details" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url, %w[chat]) }
    expect(ws.ready_state).to eq(WebSocket::Native::Client::OPEN)
    expect(ws.protocol).to eq("chat")
    expect(ws.status).to eq(101)
    expect(ws.blocking?).to be(true)
    ws.send("hi")
    expect(ws.receive(timeout: 5)).to eq("hi")
  ensure
    ws&.close
  end

  it "with a block: yields the open client, closes with 1000 after it, returns the block's value" do
    kept = nil
    value = Timeout.timeout(10) do
      WebSocket::Native.connect(server.url) do |ws|
        kept = ws
        expect(ws.ready_state).to eq(WebSocket::Native::Client::OPEN)
        ws.send("in the block")
        ws.receive(timeout: 5)
      end
    end
    expect(value).to eq("in the block")
    # close waited for the handshake: the server echoed our 1000.
    expect(kept.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect { kept.receive(timeout: 1) }.to raise_error(WebSocket::Native::ConnectionClosed) { |e|
      expect([e.code, e.reason, e.clean?]).to eq([1000, "", true])
    }
  end

  it "with a block that raises: closes with 1000 and lets the exception through" do
    kept = nil
    expect do
      Timeout.timeout(10) do
        WebSocket::Native.connect(server.url) do |ws|
          kept = ws
          raise KeyError, "the test's own failure"
        end
      end
    end.to raise_error(KeyError, "the test's own failure")
    expect(kept.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect { kept.receive }.to raise_error(WebSocket::Native::ConnectionClosed) { |e| expect(e.code).to eq(1000) }
  end

  it "connection refused: ConnectError with the :error event's words" do
    port = Support::ServerProcess.free_port
    message = expect_same_failure("ws://127.0.0.1:#{port}/", WebSocket::Native::ConnectError)
    expect(message).to include("connection refused")
  end

  it "a 404 upgrade: HandshakeError with the :error event's words" do
    message = expect_same_failure(server.url("/status?code=404"), WebSocket::Native::HandshakeError)
    expect(message).to include('"HTTP/1.1 404 Test Status"')
  end

  it "an upgrade that times out: HandshakeError after connect_timeout" do
    message = expect_same_failure(server.url("/silent"), WebSocket::Native::HandshakeError, connect_timeout: 0.3)
    expect(message).to include("timed out after 0.300 s during the HTTP upgrade")
  end

  it "a bad URL: ConfigurationError at once" do
    expect { WebSocket::Native.connect("http://127.0.0.1/") }.to raise_error(WebSocket::Native::ConfigurationError)
  end

  context "through the SNI-gated nginx edge" do
    let(:nginx) { Support::Nginx.instance }
    let(:trusted) { { ca_file: Support::PKI.instance.ca_file } }

    it "TLS refused for an IP URL without SNI: TLSError with the :error event's words" do
      message = expect_same_failure(nginx.url(host: "127.0.0.1"), WebSocket::Native::TLSError, tls: trusted)
      expect(message).to include("alert unrecognized_name")
    end

    it "connects over TLS by host name" do
      Timeout.timeout(10) do
        WebSocket::Native.connect(nginx.url, tls: trusted) do |ws|
          ws.send("over tls")
          expect(ws.receive(timeout: 5)).to eq("over tls")
        end
      end
    end
  end

  # Inside a private network namespace (see dns_spec.rb): no query leaves this machine.
  it "DNS failure: ConnectError with the :error event's words" do
    lib = File.expand_path("../../lib", __dir__)
    script = <<~RUBY
      require "websocket/native"
      url = "ws://site-box-dns-test.invalid/socket"
      ws = WebSocket::Native::Client.new(url)
      ws.on(:error) { |e| puts "event \#{e.error.class}: \#{e.message}" }
      ws.on(:close) { WebSocket::Native.stop }
      WebSocket::Native.run
      begin
        WebSocket::Native.connect(url)
      rescue WebSocket::Native::Error => e
        puts "raised \#{e.class}: \#{e.message}"
      end
    RUBY
    out, status = Open3.capture2e("timeout", "30", "unshare", "--net", "--mount",
                                  RbConfig.ruby, "-I#{lib}", "-e", script)
    skip "needs unshare (root) for an isolated network namespace: #{out}" if !status.success? && out.include?("unshare")
    event = out[/^event (.*)$/, 1]
    expect(event).to start_with('WebSocket::Native::ConnectError: DNS lookup of "site-box-dns-test.invalid" failed')
    expect(out[/^raised (.*)$/, 1]).to eq(event)
  end

  it "refuses to wait on the reactor thread, where it would wait for itself" do
    expect(error_on_reactor_thread { WebSocket::Native.connect(server.url) })
      .to start_with("WebSocket::Native.connect cannot wait on the reactor thread")
  end

  it "an interrupted connect hangs up the connection it started (long before connect_timeout)" do
    listener = TCPServer.new("127.0.0.1", 0)
    url = "ws://127.0.0.1:#{listener.addr[1]}/"
    expect { Timeout.timeout(0.5) { WebSocket::Native.connect(url, connect_timeout: 30) } }.to raise_error(Timeout::Error)
    peer = listener.accept
    request = peer.readpartial(4096)
    expect(request).to start_with("GET / HTTP/1.1")
    expect(peer.wait_readable(3)).to be_truthy
    expect(peer.read_nonblock(4096, exception: false)).to be_nil # end of stream: the client hung up
  ensure
    peer&.close
    listener&.close
  end

  describe "with reconnect:" do
    it "keeps receive waiting across lost links, and raises ConnectionClosed only after the final close" do
      ws = Timeout.timeout(10) do
        WebSocket::Native.connect(server.url("/close?ms=100&code=1001"), reconnect: { initial: 0.05, max: 0.1 })
      end
      reconnects = Queue.new
      ws.on(:reconnect) { |e| reconnects << e.attempt }
      expect(ws.receive(timeout: 1.5)).to be_nil # each link closed with 1001 meanwhile; no ConnectionClosed
      expect(reconnects.size).to be >= 2
      ws.close
      expect { ws.receive(timeout: 5) }.to raise_error(WebSocket::Native::ConnectionClosed)
      expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    end

    it "raises the give-up error when no link ever opened" do
      port = Support::ServerProcess.free_port
      expect do
        Timeout.timeout(15) do
          WebSocket::Native.connect("ws://127.0.0.1:#{port}/", reconnect: { initial: 0.05, max: 0.05, attempts: 2 })
        end
      end.to raise_error(WebSocket::Native::ConnectionError,
                         /no more reconnect attempts: gave up after 2 attempts .*127\.0\.0\.1:#{port}: connection refused/)
    end
  end
end
