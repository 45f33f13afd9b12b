# frozen_string_literal: true

require "spec_helper"
require "logger"
require "stringio"

RSpec.describe "TLS through an SNI-gated nginx edge" do
  let(:nginx) { Support::Nginx.instance }
  let(:pki) { Support::PKI.instance }
  let(:trusted) { { ca_file: pki.ca_file } }

  include_context "system trust store"

  it "connects by host name: SNI is sent and nginx routes the handshake" do
    log = echo_once(nginx.url, tls: trusted)
    expect(log).to eq([[:open], [:message, "echo me"], [:close, 1000, "", true]])
  end

  it "reports which name the edge saw in SNI" do
    _, log = record(nginx.url("/headers"), tls: trusted) { |ws, event| ws.close if event.first == :message }
    expect(log[1].last.split("\n")).to include("X-SNI: localhost", "Host: localhost")
  end

  it "fails with an SNI explanation for an IP URL without sni_hostname" do
    log = echo_once(nginx.url(host: "127.0.0.1"), tls: trusted)
    error = log.first
    expect(error[0]).to eq(:error)
    expect(error[2]).to eq(WebSocket::Native::TLSError)
    expect(error[1]).to include("TLS handshake with 127.0.0.1:#{nginx.port} failed")
    expect(error[1]).to include("alert unrecognized_name")
    expect(error[1]).to include("No SNI was sent because the URL host 127.0.0.1 is an IP address")
    expect(error[1]).to include("sni_hostname")
    expect(log.last).to eq([:close, 1006, error[1], false])
  end

  it "connects to an IP URL when sni_hostname names the site" do
    log = echo_once(nginx.url(host: "127.0.0.1"), tls: trusted.merge(sni_hostname: "app.test"))
    expect(log).to eq([[:open], [:message, "echo me"], [:close, 1000, "", true]])
  end

  it "rejects a certificate from a CA that is not trusted" do
    log = echo_once(nginx.url)
    expect(log.first[2]).to eq(WebSocket::Native::TLSError)
    expect(log.first[1]).to include("the server certificate is not trusted")
    expect(log.first[1]).to include("SSL_CERT_FILE=")
    expect(log.first[1]).to include("ca_file")
  end

  it "rejects an untrusted certificate even when SSL_CERT_FILE is cleared" do
    ENV.delete("SSL_CERT_FILE")
    log = echo_once(nginx.url)
    expect(log.first[1]).to include("the server certificate is not trusted")
  end

  describe "ca_file pins, extra_ca_file adds (a second CA in SSL_CERT_FILE plays the system roots)" do
    let(:public_url) { "wss://localhost:#{nginx.public_port}/echo" }

    before { ENV["SSL_CERT_FILE"] = pki.other_ca_file }

    it "trusts the system roots without either" do
      expect(echo_once(public_url).last).to eq([:close, 1000, "", true])
    end

    it "ca_file refuses a server that only the system roots trust, and says which roots it used" do
      log = echo_once(public_url, tls: { ca_file: pki.ca_file })
      expect(log.first[2]).to eq(WebSocket::Native::TLSError)
      expect(log.first[1]).to include("the server certificate is not trusted", "(only 1 from #{pki.ca_file})")
      expect(log.last[0..1]).to eq([:close, 1006])
      expect(echo_once(nginx.url, tls: { ca_file: [pki.other_ca_file, pki.ca_file] }).last).to eq([:close, 1000, "", true])
    end

    it "extra_ca_file trusts its files and the system roots" do
      expect(echo_once(public_url, tls: { extra_ca_file: pki.ca_file }).last).to eq([:close, 1000, "", true])
      expect(echo_once(nginx.url, tls: { extra_ca_file: pki.ca_file }).last).to eq([:close, 1000, "", true])
    end
  end

  it "connects with verify_peer: false and warns once per process" do
    WebSocket::Native.instance_variable_get(:@warned).delete(:verify_peer)
    expect do
      2.times do
        log = echo_once(nginx.url, tls: { verify_peer: false })
        expect(log.last).to eq([:close, 1000, "", true])
      end
    end.to output(/\Awebsocket-native: tls verify_peer is false for wss:[^\n]*\n\z/).to_stderr
  end

  it "says when the certificate has expired" do
    log = echo_once(nginx.url(host: "127.0.0.1"), tls: trusted.merge(sni_hostname: "expired.test"))
    expect(log.first[1]).to match(/the server certificate expired on \d{4}-\d\d-\d\d .* UTC \(this box's clock says/)
  end

  it "says when the certificate is for another name" do
    log = echo_once(nginx.url(host: "127.0.0.1"), tls: trusted.merge(sni_hostname: "wrongname.test"))
    expect(log.first[1]).to include('the server certificate is not valid for the name "wrongname.test"; it covers other.test')
  end

  it "presents a client certificate when the server asks for one" do
    cert, key = pki.client_cert("site-box")
    without = echo_once(nginx.url(host: "127.0.0.1"), tls: trusted.merge(sni_hostname: "mtls.test"))
    expect(without.first[1]).to include('"HTTP/1.1 400 Bad Request" saying "400 No required SSL certificate was sent"')
    expect(without.first[1]).to include("a client certificate the server may want")
    with = echo_once(nginx.url(host: "127.0.0.1"),
                     tls: trusted.merge(sni_hostname: "mtls.test", cert_chain_file: cert, private_key_file: key))
    expect(with).to eq([[:open], [:message, "echo me"], [:close, 1000, "", true]])
  end

  it "explains a server that closes during the TLS handshake" do
    hang_up = lambda do |conn|
      conn.readpartial(4096) # the ClientHello; closing after reading it gives a clean EOF
      conn.close
    end
    with_tcp_server(hang_up) do |port|
      log = echo_once("wss://localhost:#{port}/", tls: trusted)
      expect(log.first[1]).to include("the server closed the connection during the handshake")
      log = echo_once("wss://127.0.0.1:#{port}/", tls: trusted)
      expect(log.first[1]).to include("No SNI was sent")
    end
  end

  it "explains a plain HTTP server given a wss:// URL" do
    plain_http = lambda do |conn|
      conn.readpartial(4096)
      conn.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
      sleep 0.5
      conn.close
    end
    with_tcp_server(plain_http) do |port|
      log = echo_once("wss://localhost:#{port}/", tls: trusted)
      expect(log.first[1]).to include("the server did not answer with TLS (is this port plain HTTP? then use a ws:// URL)")
    end
  end

  it "times out a port that never answers the TLS handshake, naming the step" do
    log = echo_once("wss://localhost:#{Support::TestServer.instance.port}/echo", tls: trusted, connect_timeout: 3)
    expect(log.first[2]).to eq(WebSocket::Native::TLSError)
    expect(log.first[1]).to include("timed out after 3 s during the TLS handshake")
  end

  # After the upgrade a TLS 1.3 connection is carried by the gem's own record layer (rustls is
  # dropped, tls_stream.rs); TLS 1.2 stays with rustls. Both must carry every size both ways:
  # empty, one record, just over one, many records, and a burst of small messages.
  describe "messages after the handshake" do
    sizes = [0, 1, 125, 126, 16_379, 16_400, 70_000, 1_048_576]
    let(:expected) do
      alphabet = ("a".."z").to_a.join * 2
      sizes.map { |n| (alphabet[n % 26, 26] * ((n / 26) + 1))[0, n] } + Array.new(300) { |i| "small #{i}" }
    end

    def converse(url)
      trace = StringIO.new
      _, log = record(url, tls: trusted, logger: Logger.new(trace, level: :debug), limit: 60) do |ws, event, events|
        expected.each { |m| ws.send(m) } if event == [:open]
        ws.close if events_of(events, :message).size == expected.size
      end
      [events_of(log, :message).map(&:last), log.last, trace.string]
    end

    it "carries every size both ways over TLS 1.3" do
      messages, close, trace = converse(nginx.url)
      expect(trace).to include("TLS 1.3")
      expect(messages.map(&:bytesize)).to eq(expected.map(&:bytesize))
      expect(messages).to eq(expected)
      expect(close).to eq([:close, 1000, "", true])
    end

    it "carries every size both ways over TLS 1.2" do
      messages, close, trace = converse("wss://localhost:#{nginx.tls12_port}/echo")
      expect(trace).to include("TLS 1.2")
      expect(messages).to eq(expected)
      expect(close).to eq([:close, 1000, "", true])
    end
  end
end
