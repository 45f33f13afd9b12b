# frozen_string_literal: true

require "spec_helper"

RSpec.describe "reconnect: rules" do
  let(:server) { Support::TestServer.instance }
  let(:closed) { WebSocket::Native::Client::CLOSED }

  def client(path, timeline, **options)
    WebSocket::Native::Client.new(server.url(path), **options) { |w| timeline.attach(w) }
  end

  it "does not reconnect after the application's own close" do
    timeline = Support::Timeline.new
    ws = client("/echo", timeline, reconnect: { initial: 0.01, max: 0.01 })
    timeline.wait_for(10, "open") { timeline.of(:open).any? }
    ws.close
    timeline.wait_for(5, "close") { timeline.of(:close).any? }
    sleep 0.3
    expect(timeline.sequence).to eq(%i[open close])
    expect(timeline.of(:close).first[2..4]).to eq([1000, "", closed])
    expect(ws.send("late")).to be(false)
  end

  it "counts attempts on while links open and die at once, and reports each lost link" do
    timeline = Support::Timeline.new
    ws = client("/drop?ms=100", timeline, reconnect: { initial: 0.05, max: 0.1 })
    timeline.wait_for(10, "three opens") { timeline.of(:open).size == 3 }
    ws.close
    timeline.wait_for(5, "the final close") { timeline.of(:close).last&.at(4) == closed }
    expect(timeline.sequence.first(8)).to eq(%i[open error close reconnect open error close reconnect])
    expect(timeline.of(:reconnect).map { |e| e[2] }.first(2)).to eq([1, 2]) # reset_after (30 s) not reached
    expect(timeline.of(:close).first[4]).to eq(WebSocket::Native::Client::CONNECTING)
  end

  it "holds messages sent while no link is open up to queue_limit, refuses the rest at once, " \
     "and reports the held ones when it gives up after `attempts`" do
    timeline = Support::Timeline.new
    ws = client("/status?code=503", timeline, reconnect: { initial: 0.05, max: 0.05, attempts: 2, queue_limit: 10 })
    expect(ws.send("12345")).to be(true)
    expect(ws.send("123456")).to be(false) # 11 bytes would not fit
    expect(ws.buffered_amount).to eq(5)
    timeline.wait_for(10, "the final close") { timeline.of(:close).any? }
    # 503 may pass: plain backoff (delays within initial), not the refusal delay.
    expect(timeline.of(:reconnect).map { |e| [e[2], e[3] <= 0.05, e[4]] })
      .to eq([[1, true, WebSocket::Native::HandshakeError], [2, true, WebSocket::Native::HandshakeError]])
    errors = timeline.of(:error).map { |e| e[2] }
    expect(errors.size).to eq(5)
    expect(errors[0..2]).to all(include('"HTTP/1.1 503 Test Status"'))
    expect(errors[3]).to eq("#{server.url('/status?code=503')}: no more reconnect attempts: gave up after 2 attempts " \
                            "(reconnect attempts: 2); the last failure was: #{errors[2]}")
    expect(errors[4]).to end_with(": 1 message (5 bytes) given to send while no link was open was not delivered")
    close = timeline.of(:close).first
    expect(close[2]).to eq(1006)
    expect(close[3]).to end_with("; gave up after 2 attempts (reconnect attempts: 2); " \
                                 "1 message (5 bytes) given to send while no link was open was not delivered")
    expect(close[4]).to eq(closed)
  end

  it "retries a refusal (401) no sooner than half the cap, and a close while waiting ends it" do
    timeline = Support::Timeline.new
    ws = client("/status?code=401", timeline, reconnect: { initial: 0.05, max: 20 })
    timeline.wait_for(10, "the first reconnect event") { timeline.of(:reconnect).any? }
    reconnect = timeline.of(:reconnect).first
    expect(reconnect[2..4]).to eq([1, reconnect[3], WebSocket::Native::HandshakeError])
    expect(reconnect[3]).to be_between(10, 20)
    expect(timeline.of(:error).first[2]).to include('"HTTP/1.1 401 Test Status"')
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CONNECTING)
    expect(ws.reconnecting?).to be(true)
    ws.send("never sent")
    expect(ws.close).to be(true)
    expect(ws.close).to be(false)
    timeline.wait_for(5, "the close") { timeline.of(:close).any? }
    expect(timeline.of(:close).first[2..4]).to eq([1006, "closed by the application while waiting to reconnect; 1 message " \
                                                         "(10 bytes) given to send while no link was open was not delivered", closed])
    expect(timeline.sequence).to eq(%i[error reconnect error close])
  end

  it "gives up on a refusal with refused: :give_up, saying why" do
    timeline = Support::Timeline.new
    client("/echo?protocol=mqtt", timeline, reconnect: { refused: :give_up })
    timeline.wait_for(10, "the close") { timeline.of(:close).any? }
    expect(timeline.sequence).to eq(%i[error error close])
    expect(timeline.of(:error).first[2]).to include('the server chose subprotocol "mqtt", which the client did not offer')
    expect(timeline.of(:error).last[2]).to include("the server refused in a way retrying cannot fix (reconnect refused: :give_up)")
    expect(timeline.of(:close).first[4]).to eq(closed)
  end

  it "does not count a handshake timeout as a refusal" do
    timeline = Support::Timeline.new
    client("/silent?seconds=5", timeline, connect_timeout: 0.3, reconnect: { initial: 0.05, max: 20, attempts: 1 })
    timeline.wait_for(10, "the final close") { timeline.of(:close).any? }
    expect(timeline.of(:error).first[2]).to include("did not answer the upgrade request in full")
    expect(timeline.of(:reconnect).map { |e| [e[2], e[3] <= 0.05] }).to eq([[1, true]])
  end

  context "with TLS refusals from the SNI-gated edge" do
    let(:nginx) { Support::Nginx.instance }
    include_context "system trust store"

    it "gives up on an untrusted certificate with refused: :give_up" do
      timeline = Support::Timeline.new
      WebSocket::Native::Client.new(nginx.url, reconnect: { refused: :give_up }) { |w| timeline.attach(w) }
      timeline.wait_for(10, "the close") { timeline.of(:close).any? }
      expect(timeline.of(:error).map { |e| e[3] }).to eq([WebSocket::Native::TLSError, WebSocket::Native::ConnectionError])
      expect(timeline.of(:error).first[2]).to include("the server certificate is not trusted")
      expect(timeline.of(:close).first[3]).to end_with("(reconnect refused: :give_up)")
    end

    it "retries an unrecognized SNI name after half the cap to the cap" do
      timeline = Support::Timeline.new
      ws = WebSocket::Native::Client.new(nginx.url(host: "127.0.0.1"), tls: { ca_file: Support::PKI.instance.ca_file },
                                                                         reconnect: { initial: 0.05, max: 8 }) { |w| timeline.attach(w) }
      timeline.wait_for(10, "the reconnect event") { timeline.of(:reconnect).any? }
      expect(timeline.of(:error).first[2]).to include("alert unrecognized_name")
      expect(timeline.of(:reconnect).first[3]).to be_between(4, 8)
      ws.close
      timeline.wait_for(5, "the close") { timeline.of(:close).any? }
    end
  end

  it "checks the option" do
    bad = [
      ["yes", /reconnect must be true, false or a Hash/],
      [{ tries: 3 }, /unknown reconnect option :tries; known are initial, max, attempts/],
      [{ initial: 0 }, /reconnect initial must be a number of seconds/],
      [{ initial: 5, max: 1 }, /max \(1.0\) must not be smaller than initial \(5.0\)/],
      [{ attempts: 0 }, /attempts must be a positive Integer or nil/],
      [{ queue_limit: -1 }, /queue_limit must be an Integer/],
      [{ refused: :stop }, /refused must be :retry or :give_up/]
    ]
    bad.each do |value, message|
      expect { WebSocket::Native::Client.new(server.url, reconnect: value) }
        .to raise_error(WebSocket::Native::ConfigurationError, message)
    end
  end
end

RSpec.describe WebSocket::Native::Backoff do
  it "draws full-jitter delays under min(max, initial * 2**(n-1))" do
    backoff = described_class.new(initial: 0.5, max: 6, random: Random.new(7))
    expect((1..6).map { |n| backoff.ceiling(n) }).to eq([0.5, 1.0, 2.0, 4.0, 6.0, 6.0])
    expect(backoff.ceiling(10_000)).to eq(6.0)
    delays = Array.new(2000) { backoff.delay(3) }
    expect(delays).to all(be_between(0, 2.0))
    expect(delays.min).to be < 0.1 # the whole range is used: that is what spreads a fleet
    expect(delays.max).to be > 1.9
    expect(Array.new(200) { backoff.refusal_delay }).to all(be_between(3.0, 6.0))
  end
end
