# frozen_string_literal: true

require "spec_helper"

RSpec.describe "Faults: a long round trip (600 ms with jitter, through the relay)" do
  let(:server) { Support::TestServer.instance }

  around do |example|
    @relay = Support::Relay.new(to: server.port, delay: 300, jitter: 60, rate: 256 * 1024)
    example.run
  ensure
    @relay.stop
  end

  it "opens, then 1000 messages arrive complete and in order" do
    timeline = Support::Timeline.new
    ws = WebSocket::Native::Client.new(@relay.url, ping: 2) { |w| timeline.attach(w) }
    timeline.wait_for(10, "open") { timeline.of(:open).any? }

    started = WebSocket::Native.now
    ws.send("first")
    timeline.wait_for(5, "the first echo") { timeline.messages.size == 1 }
    # The relay really delays: 2 × (300 - 60) ms at the least.
    expect(WebSocket::Native.now - started).to be >= 0.48

    sent = Array.new(1000) { |i| "message #{i} #{'x' * (i % 200)}" }
    sent.each { |m| expect(ws.send(m)).to be(true) }
    timeline.wait_for(30, "1000 echoes") { timeline.messages.size == 1001 }
    expect(timeline.messages.drop(1)).to eq(sent)

    ws.close
    timeline.wait_for(10, "close") { timeline.of(:close).any? }
    # Pings every 2 s were answered across the delay: no dead-link verdict on a slow live link.
    expect(timeline.of(:error)).to eq([])
    expect(timeline.of(:close).last[2..4]).to eq([1000, "", WebSocket::Native::Client::CLOSED])
  end
end
