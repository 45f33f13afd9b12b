# frozen_string_literal: true

require "spec_helper"

RSpec.describe "messages through the project's echo server" do
  let(:server) { Support::TestServer.instance }

  it "round-trips text, binary and empty messages byte-exact, with the right encodings" do
    text = "héllo wörld ✓"
    binary = (0..255).to_a.pack("C*") * 3
    sent = [text, binary, "", "".b]
    _, log = record(server.url) do |ws, event, all|
      sent.each { |m| ws.send(m) } if event == [:open]
      ws.close if events_of(all, :message).size == sent.size
    end
    messages = events_of(log, :message).map(&:last)
    expect(messages).to eq(sent)
    expect(messages.map(&:encoding)).to eq([Encoding::UTF_8, Encoding::BINARY, Encoding::UTF_8, Encoding::BINARY])
    expect(log.last).to eq([:close, 1000, "", true])
  end

  it "round-trips a 16 MiB binary message" do
    big = Random.new(42).bytes(16 * 1024 * 1024)
    _, log = record(server.url, limit: 60) do |ws, event|
      ws.send(big) if event == [:open]
      ws.close if event.first == :message
    end
    got = events_of(log, :message).first&.last
    expect(got&.bytesize).to eq(big.bytesize)
    expect(got == big).to be(true)
  end

  it "round-trips large messages of many sizes back to back, each byte-exact (buffers are reused)" do
    random = Random.new(7)
    sizes = Array.new(60) { |i| [16 * 1024, 16 * 1024 + 1, 40_000, 65_536, 300_000][i % 5] + random.rand(2000) }
    sent = sizes.each_with_index.map do |size, i|
      i.even? ? random.bytes(size) : ("#{i}ü" * size)[0, size / 2]
    end
    _, log = record(server.url, limit: 60) do |ws, event, all|
      sent.each { |m| ws.send(m) } if event == [:open]
      ws.close if events_of(all, :message).size == sent.size
    end
    got = events_of(log, :message).map(&:last)
    expect(got.size).to eq(sent.size)
    bad = got.each_index.reject { |i| got[i] == sent[i] && got[i].encoding == sent[i].encoding }
    expect(bad).to be_empty, "messages #{bad.first(5)} came back different"
  end

  it "sends messages queued before open, in order, on open" do
    log = []
    ws = WebSocket::Native::Client.new(server.url)
    50.times { |i| expect(ws.send("early #{i}")).to be(true) }
    ws.on(:message) do |e|
      log << e.data
      ws.close if log.size == 50
    end
    ws.on(:close) { WebSocket::Native.stop }
    Timeout.timeout(20) { WebSocket::Native.run }
    expect(log).to eq((0...50).map { |i| "early #{i}" })
    expect(ws.buffered_amount).to eq(0)
  end

  it "counts bytes queued before open in buffered_amount" do
    ws = WebSocket::Native::Client.new(server.url("/silent"))
    ws.send("12345")
    ws.send("abc".b)
    ws.send([1, 2])
    expect(ws.buffered_amount).to eq(10)
    ws.close
  end

  it "negotiates a subprotocol" do
    ws, log = record(server.url, %w[chat superchat]) { |c, event| c.close if event == [:open] }
    expect(log.first).to eq([:open])
    expect(ws.protocol).to eq("chat")
    expect(ws.status).to eq(101)
    expect(ws.headers["x-test-server"]).to eq("websocket-native")
  end

  it "fails the handshake when the server picks a subprotocol that was not offered" do
    _, log = record(server.url("/echo?protocol=other"), %w[chat])
    expect(log.first[0..1]).to eq([:error, log.first[1]])
    expect(log.first[1]).to include('chose subprotocol "other", which the client did not offer (offered: chat)')
    expect(log.first[2]).to eq(WebSocket::Native::HandshakeError)
    expect(log.last[0..1]).to eq([:close, 1006])
  end

  it "sends custom headers with the upgrade request" do
    _, log = record(server.url("/headers"), headers: { "Authorization" => "Bearer t", "X-Site" => "north-7" }) do |ws, event|
      ws.close if event.first == :message
    end
    lines = events_of(log, :message).first.last.split("\n")
    expect(lines).to include("Authorization: Bearer t", "X-Site: north-7", "Host: 127.0.0.1:#{server.port}")
  end

  it "answers a ping with the pong callback" do
    pongs = []
    record(server.url) do |ws, event|
      if event == [:open]
        ws.ping("abc") do
          pongs << :pong
          ws.close
        end
      end
    end
    expect(pongs).to eq([:pong])
  end
end

RSpec.describe "writing" do
  let(:server) { Support::TestServer.instance }

  it "close goes out only after every queued message was written" do
    big = "z" * (4 * 1024 * 1024)
    _, log = record(server.url) do |ws, event|
      if event == [:open]
        ws.send(big)
        ws.send("last")
        ws.close(4000, "after the data")
      end
    end
    expect(log.map { |e| e.first == :message ? [:message, e.last.bytesize] : e })
      .to eq([[:open], [:message, big.bytesize], [:message, 4], [:close, 4000, "after the data", true]])
  end

  it "queues for a peer that stopped reading, visible in buffered_amount, without stalling callbacks" do
    stalled = WebSocket::Native::Client.new(server.url("/stall?seconds=30"), nil, close_timeout: 0.5,
                                                                              send_limit: 32 * 1024 * 1024)
    chunk = "s" * (1024 * 1024)
    log = []
    WebSocket::Native.run do
      stalled.on(:open) do
        16.times { stalled.send(chunk) }
        other = WebSocket::Native::Client.new(server.url)
        other.on(:open) { other.send("still responsive") }
        other.on(:message) do |e|
          log << e.data << stalled.buffered_amount
          other.close
        end
        other.on(:close) { WebSocket::Native.stop }
      end
    end
    expect(log[0]).to eq("still responsive")
    expect(log[1]).to be > 4 * 1024 * 1024 # far more than socket buffers hold
    expect(log[1]).to be <= 16 * 1024 * 1024
    # The close deadline runs from close(), even though the frame cannot be written.
    closed = Queue.new
    stalled.on(:close) { |e| closed << [e.code, e.reason] }
    stalled.close
    code, reason = Timeout.timeout(10) { closed.pop }
    expect(code).to eq(1006)
    expect(reason).to match(/\Athe close frame could not be sent to 127.0.0.1:\d+: the server read nothing for 0.500 s \(close_timeout\) with data still queued; the connection was dropped; \d+ messages \(\d+ bytes\) given to send were not delivered\z/)
  end
end
