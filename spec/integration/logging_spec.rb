# frozen_string_literal: true

require "spec_helper"
require "logger"
require "open3"
require "stringio"

RSpec.describe "connection step logging" do
  let(:nginx) { Support::Nginx.instance }
  let(:trusted) { { ca_file: Support::PKI.instance.ca_file } }
  let(:server) { Support::TestServer.instance }
  let(:io) { StringIO.new }
  let(:logger) { Logger.new(io, formatter: ->(severity, _, _, msg) { "#{severity} #{msg}\n" }) }

  after { WebSocket::Native.logger = nil }

  def lines
    io.string.lines.map(&:chomp)
  end

  it "logs each step of a successful connection at debug, naming it, with secrets masked" do
    url = "wss://user:pa55word@localhost:#{nginx.port}/echo?token=s3cret&room=1"
    log = echo_once(url, tls: trusted, logger: logger, headers: { "Authorization" => "Bearer s3cret" })
    expect(log.last).to eq([:close, 1000, "", true])
    name = %r{\ADEBUG ws#\d+ wss://localhost:#{nginx.port}/echo\?token=\*\*\*&room=1: }
    expect(lines).to all(match(name))
    steps = lines.map { |l| l.sub(name, "") }
    expect(steps[0]).to match(/\Adns: localhost -> 127\.0\.0\.1.* \(after \d+ ms\)\z/)
    expect(steps[1]).to match(/\Atcp: connected to 127\.0\.0\.1:#{nginx.port} \(after \d+ ms\)\z/)
    expect(steps[2]).to match(/\Atls: SNI localhost, TLS 1\.3, TLS13_\w+ \(after \d+ ms\)\z/)
    expect(steps[3]).to match(/\Aupgrade: "HTTP\/1\.1 101 Switching Protocols" \(after \d+ ms\)\z/)
    expect(steps[4..]).to eq(["open (status 101)", "close 1000"])
    expect(io.string).not_to include("s3cret", "pa55word", "user")
  end

  it "logs a failed connection at error and its close at warn" do
    WebSocket::Native.logger = logger
    log = echo_once("wss://127.0.0.1:#{nginx.port}/echo", tls: trusted)
    expect(log.first[0]).to eq(:error)
    expect(lines.grep(/dns: |tcp: /).size).to eq(2)
    expect(lines.grep(/\AERROR /).join).to include("tls failed: TLS handshake with 127.0.0.1:#{nginx.port} failed",
                                                  "alert unrecognized_name")
    expect(lines.last).to match(/\AWARN ws#\d+ wss:\/\/127\.0\.0\.1:#{nginx.port}\/echo: close 1006 ".*" \(not clean\)\z/)
  end

  it "logs the tunnel through a proxy" do
    proxy = Support::ConnectProxy.new
    echo_once(server.url("/echo"), proxy: proxy.url, logger: logger)
    expect(lines.grep(/proxy: CONNECT 127\.0\.0\.1:#{server.port}: "HTTP\/1\.1 200 Connection established"/).size).to eq(1)
  ensure
    proxy&.stop
  end

  it "warns about verify_peer: false" do
    echo_once(nginx.url, tls: { verify_peer: false }, logger: logger)
    expect(lines.first).to match(/\AWARN ws#\d+ wss:.*: tls verify_peer is false: the server's certificate is not checked\z/)
  end

  it "asks the core for no step events without a logger, and logger: false overrides the global one" do
    WebSocket::Native.logger = logger
    traces = 0
    count = Module.new do
      define_method(:handle_event) do |kind, *args|
        traces += 1 if kind == WebSocket::Native::Reactor::TRACE
        super(kind, *args)
      end
    end
    WebSocket::Native::Client.new(server.url("/echo"), logger: false) do |ws|
      ws.singleton_class.prepend(count)
      ws.on(:open) { ws.close }
      ws.on(:close) { WebSocket::Native.stop }
    end
    Timeout.timeout(10) { WebSocket::Native.run }
    expect([traces, io.string]).to eq([0, ""])

    WebSocket::Native::Client.new(server.url("/echo")) do |ws|
      ws.singleton_class.prepend(count)
      ws.on(:open) { ws.close }
      ws.on(:close) { WebSocket::Native.stop }
    end
    Timeout.timeout(10) { WebSocket::Native.run }
    expect(traces).to eq(3) # dns, tcp and upgrade (ws:// has no TLS step)
  end

  it "refuses a logger that is not one" do
    expect { WebSocket::Native::Client.new(server.url, logger: "stderr") }
      .to raise_error(WebSocket::Native::ConfigurationError, /logger must be a Logger/)
    expect { WebSocket::Native.logger = 42 }.to raise_error(ArgumentError, /logger must respond to/)
  end

  describe "from the environment and the faye layer (in a child process)" do
    def ruby(script, env)
      out, err, status = Open3.capture3(env, "timeout", "30", RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__),
                                        "-e", script)
      expect(status).to be_success, err
      [out, err]
    end

    let(:connect_script) do
      <<~RUBY
        require "websocket/native"
        ws = WebSocket::Native::Client.new(ARGV.fetch(0, "#{server.url('/echo')}"))
        ws.on(:open) { ws.close }
        ws.on(:close) { WebSocket::Native.stop }
        WebSocket::Native.run
      RUBY
    end

    it "logs to stderr at the level WEBSOCKET_NATIVE_LOG names" do
      _, err = ruby(connect_script, "WEBSOCKET_NATIVE_LOG" => "debug")
      expect(err).to include("DEBUG -- websocket-native: ws#1 #{server.url('/echo')}: dns: 127.0.0.1")
      expect(err).to include("upgrade: \"HTTP/1.1 101 Switching Protocols\"", "close 1000")
      _, err = ruby(connect_script, "WEBSOCKET_NATIVE_LOG" => "warn")
      expect(err).to eq("")
      _, err = ruby(connect_script, {})
      expect(err).to eq("")
    end

    it "passes logger: through the faye drop-in" do
      out, = ruby(<<~RUBY, {})
        require "logger"
        require "websocket/native/faye"
        EM.run do
          ws = Faye::WebSocket::Client.new("#{server.url('/echo')}", nil, logger: Logger.new($stdout))
          ws.on(:open) { ws.close }
          ws.on(:close) { EM.stop }
        end
      RUBY
      expect(out).to include("tcp: connected to 127.0.0.1:#{server.port}", "open (status 101)", "close 1000")
    end
  end
end
