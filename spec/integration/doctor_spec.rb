# frozen_string_literal: true

require "spec_helper"
require "json"

RSpec.describe "websocket-native doctor" do
  include Support::CLI

  let(:nginx) { Support::Nginx.instance }
  let(:ca) { Support::PKI.instance.ca_file }
  let(:server) { Support::TestServer.instance }
  # The system bundle (no test CA) pins the trust store, as the TLS specs do.
  let(:env) { { "SSL_CERT_FILE" => "/etc/ssl/certs/ca-certificates.crt", "https_proxy" => nil, "HTTPS_PROXY" => nil, "http_proxy" => nil } }

  def doctor(*args, extra_env: {})
    out, err, status = run_cli("doctor", *args, env: env.merge(extra_env))
    [out, err, status.exitstatus]
  end

  # The report wraps long lines; phrases are checked on the text with whitespace folded.
  def flat(text)
    text.gsub(/\s+/, " ")
  end

  def fits_80_columns(text)
    expect(text.lines.map { |l| l.chomp.size }.max).to be <= 80
  end

  it "passes every step through the SNI-gated edge by host name, and finds the edge requires SNI" do
    out, _, code = doctor(nginx.url, "--ca", ca)
    expect(code).to eq(0)
    %w[URL DNS TCP TLS].each { |step| expect(out).to match(/^\[ok\]   #{step}/) }
    expect(out).to match(/^\[ok\]   HTTP upgrade/).and match(/^\[ok\]   WebSocket/)
    expect(flat(out)).to include("SNI sent: localhost", "TLS 1.3", "ALPN http/1.1", "certificate 1: CN=localhost",
                           "issuer: CN=websocket-native test CA", "names: localhost, app.test",
                           "matches the name: yes", "trust: trusted; roots:")
    expect(out).to match(/not after: \d{4}-\d\d-\d\dT.*Z \(\d+ days left\)/)
    expect(flat(out)).to include("This edge requires SNI: clients that send no SNI")
    expect(flat(out)).to include("fail here with close 1006")
    expect(flat(out)).to include("> GET /echo HTTP/1.1", "< HTTP/1.1 101 Switching Protocols")
    expect(out).to match(/open; 3 pings: [\d.]+ ms, [\d.]+ ms, [\d.]+ ms; closed 1000/)
    expect(flat(out)).to include("Verdict: every step works (exit 0).")
    fits_80_columns(out)
  end

  it "fails at TLS by IP, names SNI, suggests --sni with the name that works" do
    out, _, code = doctor(nginx.url(host: "127.0.0.1"), "--ca", ca)
    expect(code).to eq(7)
    expect(out).to match(/^\[FAIL\] TLS/)
    expect(flat(out)).to include("SNI sent: none (IP literal)", "alert unrecognized_name", "No SNI was sent")
    expect(flat(out)).to include("This edge requires SNI")
    expect(out).to match(/^\[--\]   HTTP upgrade: not reached/)
    expect(flat(out)).to include("Retry with --sni localhost:")
    expect(flat(out)).to include("Verdict: FAILED at TLS (exit 7).", "With --sni localhost every step works")
    fits_80_columns(out)
  end

  it "passes by IP with --sni" do
    out, _, code = doctor(nginx.url(host: "127.0.0.1"), "--ca", ca, "--sni", "app.test")
    expect(code).to eq(0)
    expect(flat(out)).to include("SNI sent: app.test", "> Host: app.test:#{nginx.port}", "Verdict: every step works")
  end

  it "treats a hang-up after the ClientHello as a possible SNI problem, without blaming SNI when a name fails too" do
    hang_up = lambda do |conn|
      conn.readpartial(4096)
      conn.close
    end
    with_tcp_server(hang_up) do |port|
      out, _, code = doctor("wss://127.0.0.1:#{port}/", "--ca", ca, "--json")
      report = JSON.parse(out)
      expect([code, report["failed_step"]]).to eq([7, "tls"])
      expect(report["error"]).to include("the server closed the connection during the handshake", "No SNI was sent")
      expect(report["sni_retry"]["sni"]).to eq("localhost")
      expect(report["sni_retry"]["steps"].last).to include("name" => "tls", "ok" => false)
      expect(report["sni"]).to include("sent" => nil, "required" => nil)
      expect(report["fix"]).to include("Run again with --sni NAME")

      out, _, code = doctor("wss://localhost:#{port}/", "--ca", ca)
      expect(code).to eq(7)
      expect(flat(out)).to include("as it does with SNI, so SNI is not what decides here")
      expect(flat(out)).not_to include("This edge requires SNI")
    end
  end

  it "names an untrusted CA, still shows the chain, and suggests --ca" do
    out, _, code = doctor(nginx.url)
    expect(code).to eq(7)
    expect(flat(out)).to include("the server certificate is not trusted", "certificate 1: CN=localhost",
                           "trust: REJECTED")
    expect(flat(out)).to include("Pass --ca FILE with the CA that signed")
    expect(flat(out)).to include("This edge requires SNI") # the no-SNI attempt is independent of trust
  end

  it "names an expired certificate" do
    out, _, code = doctor(nginx.url(host: "127.0.0.1"), "--ca", ca, "--sni", "expired.test")
    expect(code).to eq(7)
    expect(flat(out)).to match(/the server certificate expired on \d{4}-\d\d-\d\d/)
    expect(out).to match(/not after: .* \(EXPIRED \d+ days ago\)/)
  end

  it "names a closed port at TCP" do
    port = Support::ServerProcess.free_port
    out, _, code = doctor("ws://127.0.0.1:#{port}/")
    expect(code).to eq(5)
    expect(out).to match(/^\[FAIL\] TCP/)
    expect(flat(out)).to include("127.0.0.1:#{port}: connection refused")
    expect(flat(out)).to include("Verdict: FAILED at TCP (exit 5).")
  end

  it "reports a plain HTTP server that answers 200 or 404 to the upgrade" do
    { 200 => "treated it as a plain HTTP request", 404 => "no WebSocket endpoint at this path" }.each do |status, hint|
      out, _, code = doctor(server.url("/status?code=#{status}"))
      expect(code).to eq(8)
      expect(out).to match(/^\[FAIL\] HTTP upgrade/)
      expect(flat(out)).to include("HTTP/1.1 #{status} Test Status", hint)
      expect(flat(out)).to include("> GET /status?code=#{status} HTTP/1.1", "< HTTP/1.1 #{status} Test Status", "< Content-Length: 18")
    end
  end

  it "names the TLS step when a server never answers the handshake" do
    out, _, code = doctor("wss://localhost:#{server.port}/echo", "--ca", ca, "--timeout", "1.5")
    expect(code).to eq(7)
    expect(flat(out)).to include("timed out after 1.500 s during the TLS handshake", "--timeout")
  end

  it "prints the same verdict as JSON" do
    out, _, code = doctor(nginx.url(host: "127.0.0.1"), "--ca", ca, "--json")
    report = JSON.parse(out)
    expect(code).to eq(7)
    expect(report).to include("ok" => false, "exit_code" => 7, "failed_step" => "tls",
                              "verdict" => "FAILED at TLS (exit 7).")
    expect(report["sni"]).to include("sent" => nil, "required" => true)
    expect(report["fix"]).to include("--sni localhost")
    expect(report["sni_retry"]["steps"].map { |s| s["ok"] }).to all(be(true))
    expect(report["steps"].map { |s| s["name"] }).to eq(%w[url dns tcp tls])

    out, _, code = doctor(nginx.url, "--ca", ca, "--json")
    report = JSON.parse(out)
    expect([code, report["ok"], report["exit_code"]]).to eq([0, true, 0])
    leaf = report["steps"].find { |s| s["name"] == "tls" }["facts"]["chain"].first
    expect(leaf).to include("subject" => "CN=localhost", "names" => %w[localhost app.test], "name_matches" => true)
    expect(report["steps"].last["facts"]["ping_ms"].size).to eq(3)
  end

  it "masks secrets in the request it shows" do
    out, _, code = doctor("#{server.url('/echo')}?access_token=s3cret&room=1",
                          "-H", "Authorization: Bearer s3cret", "-H", "Cookie: session=s3cret")
    expect(code).to eq(0)
    expect(flat(out)).not_to include("s3cret")
    expect(flat(out)).to include("> GET /echo?access_token=***&room=1 HTTP/1.1", "> Authorization: Bearer ***",
                           "> Cookie: ***")
  end

  it "prints usage and the exit codes for bad arguments (exit 2)" do
    _, err, code = doctor("--bogus")
    expect(code).to eq(2)
    expect(err).to include("invalid option: --bogus", "Usage: websocket-native doctor URL", "7  TLS handshake failed")
    _, err, code = doctor
    expect(code).to eq(2)
    expect(err).to include("give one URL")
  end

  it "reports a bad URL at the URL step (exit 3)" do
    out, _, code = doctor("http://example.invalid/")
    expect(code).to eq(3)
    expect(flat(out)).to include("[FAIL] URL", "must start with ws:// or wss://")
  end

  it "walks an https:// proxy: TLS to the proxy (trusting --ca too), then CONNECT and TLS inside the tunnel" do
    proxy = Support::ConnectProxy.new(tls: true)
    out, _, code = doctor(nginx.url, "--ca", ca, "--proxy", proxy.url)
    expect(code).to eq(0), out
    expect(flat(out)).to include("CONNECT localhost:#{nginx.port} via 127.0.0.1:#{proxy.port} (from --proxy)",
                                 "TLS to the proxy: TLS")
    expect(out).to match(/^\[ok\]   TLS/)
    expect(proxy.requests.pop).to start_with("CONNECT localhost:#{nginx.port} HTTP/1.1")

    proxy.requests.clear # the first run's no-SNI attempt tunnelled too
    out, _, code = doctor(nginx.url, "--proxy", proxy.url)
    expect(code).to eq(6)
    expect(flat(out)).to include("TLS handshake with the proxy 127.0.0.1:#{proxy.port} failed")
    expect(proxy.requests).to be_empty
  ensure
    proxy&.stop
  end

  context "through tinyproxy", if: Support::Tinyproxy.available? do
    it "tunnels through a real CONNECT proxy, also when given by https_proxy" do
      proxy = Support::Tinyproxy.new(connect_ports: [nginx.port])
      out, _, code = doctor(nginx.url, "--ca", ca, "--proxy", proxy.url)
      expect(code).to eq(0)
      expect(out).to match(/^\[ok\]   Proxy/)
      expect(flat(out)).to include("CONNECT localhost:#{nginx.port} via 127.0.0.1:#{proxy.port} (from --proxy)")
      expect(out).to match(/reply: HTTP\/1\.\d 200 Connection established/)

      out, _, code = doctor(nginx.url, "--ca", ca, extra_env: { "https_proxy" => proxy.url })
      expect(code).to eq(0)
      expect(flat(out)).to include("(from https_proxy)")

      out, _, code = doctor(nginx.url, "--ca", ca, extra_env: { "https_proxy" => proxy.url, "no_proxy" => "localhost" })
      expect(code).to eq(0)
      expect(flat(out)).not_to include("Proxy")
    ensure
      proxy&.stop
    end

    it "fails at the proxy step without the credentials it requires, and passes with them" do
      proxy = Support::Tinyproxy.new(connect_ports: [nginx.port], credentials: "site:pa55")
      out, _, code = doctor(nginx.url, "--ca", ca, "--proxy", proxy.url)
      expect(code).to eq(6)
      expect(out).to match(/^\[FAIL\] Proxy/)
      expect(flat(out)).to include("407", "the proxy wants credentials")

      out, _, code = doctor(nginx.url, "--ca", ca, "--proxy", proxy.url("site:pa55"), "--json")
      expect(code).to eq(0)
      expect(flat(out)).not_to include("pa55")
      expect(JSON.parse(out)["proxy"]["url"]).to eq("http://127.0.0.1:#{proxy.port}")
    ensure
      proxy&.stop
    end
  end
end
