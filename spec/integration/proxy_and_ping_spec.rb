# frozen_string_literal: true

require "spec_helper"

RSpec.describe "HTTP CONNECT proxies and keepalive pings" do
  let(:server) { Support::TestServer.instance }

  around do |example|
    @proxy = Support::ConnectProxy.new(credentials: "site:s3cret")
    example.run
  ensure
    @proxy.stop
  end

  it "tunnels ws:// through the proxy with credentials from the proxy URL" do
    log = echo_once(server.url, proxy: @proxy.url("site:s3cret"))
    expect(log).to eq([[:open], [:message, "echo me"], [:close, 1000, "", true]])
    head = @proxy.requests.pop
    expect(head).to start_with("CONNECT 127.0.0.1:#{server.port} HTTP/1.1\r\n")
    expect(head).to include("Proxy-Authorization: Basic #{['site:s3cret'].pack('m0')}")
  end

  it "tunnels wss:// through the proxy to the SNI-gated edge (TLS end to end)" do
    nginx = Support::Nginx.instance
    log = echo_once(nginx.url, tls: { ca_file: Support::PKI.instance.ca_file },
                               proxy: { origin: @proxy.url, headers: { "Proxy-Authorization" => "Basic #{['site:s3cret'].pack('m0')}" } })
    expect(log.last).to eq([:close, 1000, "", true])
    expect(@proxy.requests.pop).to start_with("CONNECT localhost:#{nginx.port} HTTP/1.1")
  end

  it "says when the proxy wants credentials" do
    log = echo_once(server.url, proxy: @proxy.url)
    expect(log.first[2]).to eq(WebSocket::Native::ConnectError)
    expect(log.first[1]).to start_with("proxy 127.0.0.1:#{@proxy.port} refused to CONNECT to 127.0.0.1:#{server.port}: " \
                                       '"HTTP/1.1 407 Proxy Authentication Required"')
    expect(log.first[1]).to include("wants credentials")
  end

  it "says when the proxy cannot be reached" do
    port = Support::ServerProcess.free_port
    log = echo_once(server.url, proxy: "http://127.0.0.1:#{port}")
    expect(log.first[1]).to include("127.0.0.1:#{port}: connection refused")
  end

  describe "an https:// proxy" do
    let(:pki) { Support::PKI.instance }

    around do |example|
      @tls_proxy = Support::ConnectProxy.new(tls: true)
      example.run
    ensure
      @tls_proxy.stop
    end

    it "tunnels ws:// inside TLS to the proxy, checking its certificate with the proxy's tls options" do
      log = echo_once(server.url, proxy: { origin: @tls_proxy.url, tls: { ca_file: pki.ca_file } })
      expect(log).to eq([[:open], [:message, "echo me"], [:close, 1000, "", true]])
      expect(@tls_proxy.requests.pop).to start_with("CONNECT 127.0.0.1:#{server.port} HTTP/1.1\r\n")
    end

    it "tunnels wss:// as TLS inside TLS to the SNI-gated edge" do
      nginx = Support::Nginx.instance
      log = echo_once(nginx.url, tls: { ca_file: pki.ca_file }, proxy: { origin: @tls_proxy.url, tls: { ca_file: pki.ca_file } })
      expect(log.last).to eq([:close, 1000, "", true])
      expect(@tls_proxy.requests.pop).to start_with("CONNECT localhost:#{nginx.port} HTTP/1.1")
    end

    it "refuses a proxy whose certificate is not trusted, at the proxy step, and never connects directly" do
      log = echo_once(server.url, proxy: { origin: @tls_proxy.url, tls: { ca_file: pki.other_ca_file } })
      expect(log.first[0]).to eq(:error)
      expect(log.first[2]).to eq(WebSocket::Native::ConnectError)
      expect(log.first[1]).to start_with("TLS handshake with the proxy 127.0.0.1:#{@tls_proxy.port} failed: " \
                                         "the server certificate is not trusted")
      expect(log.map(&:first)).to eq(%i[error close])
      expect(@tls_proxy.requests).to be_empty
    end

    it "takes tls options only for an https:// origin" do
      expect { WebSocket::Native::Client.new(server.url, nil, proxy: { origin: @proxy.url, tls: { verify_peer: false } }) }
        .to raise_error(WebSocket::Native::ConfigurationError, /proxy tls options apply to an https:\/\/ proxy origin/)
      expect { WebSocket::Native::Client.new(server.url, nil, proxy: "socks5://127.0.0.1:1080") }
        .to raise_error(WebSocket::Native::ConfigurationError, /must be an http:\/\/ or https:\/\/ URL/)
    end
  end

  it "sends a ping every `ping:` seconds with counting payloads" do
    _, log = record(server.url("/pings"), ping: 0.1) do |ws, event, all|
      ws.close if events_of(all, :message).size == 3
    end
    expect(events_of(log, :message).map(&:last)).to eq(["ping 1", "ping 2", "ping 3"])
  end
end
