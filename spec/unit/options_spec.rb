# frozen_string_literal: true

require "spec_helper"

RSpec.describe WebSocket::Native::Client, "arguments" do
  let(:config_error) { WebSocket::Native::ConfigurationError }

  def new_client(*args, **options)
    described_class.new(*args, **options)
  end

  it "raises at once, before any I/O, for a malformed URL" do
    expect { new_client("wss://bad host/") }.to raise_error(config_error, /"wss:\/\/bad host\/" is not a valid URL/)
    expect { new_client(42) }.to raise_error(config_error, /url must be a String/)
  end

  it "names the scheme it wants" do
    expect { new_client("https://app.example.com/") }.to raise_error(config_error, %r{must start with ws:// or wss:// \(got https://\)})
    expect { new_client("app.example.com") }.to raise_error(config_error, /got no scheme/)
  end

  it "fills in the default port of ws:// and wss:// (Ruby 3.1's URI knows neither)" do
    expect(WebSocket::Native::Options.new("wss://app.example.com/socket", nil, {}).to_native)
      .to include(port: 443, host: "app.example.com", resource: "/socket", secure: true)
    expect(WebSocket::Native::Options.new("ws://app.example.com", nil, {}).to_native)
      .to include(port: 80, resource: "/", secure: false)
    expect(WebSocket::Native::Options.new("WSS://[::1]:8443/a?b=c", nil, {}).to_native)
      .to include(port: 8443, host: "::1", resource: "/a?b=c", secure: true)
  end

  it "parses a URL once and shares the frozen result; a bad URL is refused every time" do
    url = "wss://cache.example.com:8443/socket"
    first = WebSocket::Native::Options.new(url, nil, {})
    second = WebSocket::Native::Options.new(url.dup, nil, {})
    expect(second.uri).to equal(first.uri)
    expect(first.uri).to be_frozen
    expect(second.to_native).to include(host: "cache.example.com", port: 8443, resource: "/socket")
    2.times { expect { new_client("wss://bad host/") }.to raise_error(config_error, /not a valid URL/) }
    expect(WebSocket::Native::Options.new("wss://CACHE.example.com:8443/socket", nil, {}).uri).not_to equal(first.uri)
    expect(first.uri.host).to be_frozen
    expect(first.uri.path).to be_frozen
  end

  it "keeps no URL with credentials or a query after its client" do
    %w[wss://user:secret@cache.example.com/socket wss://cache.example.com/socket?token=abc].each do |url|
      first = WebSocket::Native::Options.new(url, nil, {})
      expect(WebSocket::Native::Options.new(url, nil, {}).uri).not_to equal(first.uri)
      expect(WebSocket::Native::Options::PARSED_URLS).not_to have_key(url)
    end
  end

  it "gives hops without tls: options one shared set of TLS fields, and others their own" do
    plain = WebSocket::Native::Options.new("ws://app.example.com", nil, {}).to_native
    other = WebSocket::Native::Options.new("wss://app.example.com", nil, {}).to_native
    expect(plain[:tls]).to be_frozen.and equal(other[:tls]).and equal(other[:proxy_tls])
    expect(plain[:tls]).to include(verify_peer: true, root_cert_files: [], pin_roots: false, sni_hostname: nil)
    pinned = WebSocket::Native::Options.new("wss://app.example.com", nil, tls: { ca_file: "/ca.pem", sni_hostname: "x.test" })
    expect(pinned.to_native[:tls]).to include(root_cert_files: ["/ca.pem"], pin_roots: true, sni_hostname: "x.test")
  end

  it "wants a host" do
    expect { new_client("ws:///path") }.to raise_error(config_error, /has no host name/)
  end

  it "rejects an unknown option key and lists the known ones" do
    expect { new_client("ws://127.0.0.1:1/", nil, timeout: 5) }
      .to raise_error(config_error, /unknown option :timeout; known options are :connect_timeout/)
    expect { new_client("ws://127.0.0.1:1/", nil, tls: { verify: false }) }.to raise_error(config_error, /unknown tls option :verify/)
  end

  it "rejects options of the wrong type" do
    expect { new_client("ws://127.0.0.1:1/", nil, connect_timeout: "10") }
      .to raise_error(config_error, /connect_timeout must be a number of seconds from 0.001 to one year \(31536000\), not "10"/)
    expect { new_client("ws://127.0.0.1:1/", nil, connect_timeout: -1) }.to raise_error(config_error, /connect_timeout/)
    # Out of range for any clock: refused here instead of overflowing in the core.
    expect { new_client("ws://127.0.0.1:1/", nil, close_timeout: 10**19) }.to raise_error(config_error, /close_timeout/)
    expect { new_client("ws://127.0.0.1:1/", nil, ping: 1e-10) }.to raise_error(config_error, /ping/)
    expect { new_client("ws://127.0.0.1:1/", nil, ping: Float::INFINITY) }.to raise_error(config_error, /ping/)
    expect { new_client("ws://127.0.0.1:1/", nil, max_length: 1.5) }.to raise_error(config_error, /max_length must be a positive Integer/)
    expect { new_client("ws://127.0.0.1:1/", nil, headers: "x") }.to raise_error(config_error, /headers must be a Hash/)
    expect { new_client("ws://127.0.0.1:1/", nil, tls: { verify_peer: "no" }) }.to raise_error(config_error, /tls.verify_peer must be true or false/)
    expect { new_client("ws://127.0.0.1:1/", 42) }.to raise_error(config_error, /subprotocol 42 must be a String token/)
  end

  it "rejects header injection and headers the client owns" do
    expect { new_client("ws://127.0.0.1:1/", nil, headers: { "X-A" => "1\r\nEvil: 1" }) }.to raise_error(config_error, /line break/)
    expect { new_client("ws://127.0.0.1:1/", nil, headers: { "Sec-WebSocket-Key" => "x" }) }.to raise_error(config_error, /set by the client itself/)
    expect { new_client("ws://127.0.0.1:1/", nil, headers: { "Bad Name" => "x" }) }.to raise_error(config_error, /not a valid HTTP token/)
  end

  it "reads TLS files at once and says which one is wrong" do
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { ca_file: "/nonexistent/ca.pem" }) }
      .to raise_error(config_error, %r{tls.ca_file /nonexistent/ca.pem cannot be read: No such file})
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { extra_ca_file: ["/nonexistent/ca.pem"] }) }
      .to raise_error(config_error, %r{tls.extra_ca_file /nonexistent/ca.pem cannot be read})
    Tempfile.create("empty.pem") do |f|
      expect { new_client("wss://127.0.0.1:1/", nil, tls: { ca_file: f.path }) }
        .to raise_error(config_error, /holds no PEM certificate/)
    end
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { cert_chain_file: Support::PKI.instance.ca_file }) }
      .to raise_error(config_error, /must be given together/)
  end

  it "says which rule each CA option follows, and refuses the ambiguous root_cert_file" do
    ca = Support::PKI.instance.ca_file
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { root_cert_file: ca }) }
      .to raise_error(config_error, /tls.root_cert_file is no longer read.*tls: \{ ca_file: \} to trust only these CA files, or tls: \{ extra_ca_file: \}/)
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { ca_file: ca, extra_ca_file: ca }) }
      .to raise_error(config_error, /not both/)
    expect { new_client("wss://127.0.0.1:1/", nil, tls: { ca_file: [] }) }
      .to raise_error(config_error, /tls.ca_file must be a path or a non-empty list of paths, not \[\]/)
  end

  it "is a WebSocket::Native::Error and a StandardError" do
    expect(config_error.ancestors).to include(WebSocket::Native::Error, StandardError)
    error = (new_client("nope://x") rescue $!)
    expect(error.step).to eq(:configuration)
  end

  it "validates send, ping and close arguments" do
    ws = new_client(Support::TestServer.instance.url("/silent"))
    expect { ws.send(42) }.to raise_error(ArgumentError, /send takes a String/)
    expect { ws.send("\xff".dup.force_encoding("UTF-8")) }.to raise_error(ArgumentError, /must be valid UTF-8/)
    expect { ws.send([1, 300]) }.to raise_error(ArgumentError, /bytes \(Integers 0..255\)/)
    expect { ws.ping("x" * 126) }.to raise_error(ArgumentError, /at most 125 bytes/)
    expect { ws.close(1001) }.to raise_error(ArgumentError, /1000 or 3000..4999, not 1001/)
    expect { ws.close(4000, "x" * 124) }.to raise_error(ArgumentError, /at most 123 bytes/)
    expect(ws.ping).to be(true) # queued until open
    expect(ws.close).to be(true)
    expect(ws.close).to be(false)
    expect(ws.ping).to be(false)
    expect(ws.send("late")).to be(false)
  end
end
