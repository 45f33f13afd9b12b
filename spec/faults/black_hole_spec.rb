# frozen_string_literal: true

require "spec_helper"

# The relay's stall mode is the black hole: nothing is forwarded either way, sockets stay open,
# and the relay keeps reading, so the kernel still accepts the client's writes.
RSpec.describe "Faults: a 10 s black hole in the middle of a session (ping: 2)" do
  let(:server) { Support::TestServer.instance }
  # README: a dead link is reported at most ping + pong_timeout after the last frame heard.
  let(:bound) { 2 + 2 }
  # Scheduling slack on a shared 2-core machine.
  let(:slack) { 1.5 }

  around do |example|
    @relay = Support::Relay.new(to: server.port)
    example.run
  ensure
    @relay.stop
  end

  def open_client(timeline, **options)
    ws = WebSocket::Native::Client.new(@relay.url, ping: 2, **options) { |w| timeline.attach(w) }
    timeline.wait_for(10, "open") { timeline.of(:open).any? }
    ws
  end

  def last_heard(timeline, ws)
    ws.send("still there?")
    timeline.wait_for(5, "an echo before the hole") { timeline.messages.include?("still there?") }
    timeline.of(:message).last[0]
  end

  it "reports the dead link within ping + pong_timeout while the application only receives" do
    timeline = Support::Timeline.new
    ws = open_client(timeline)
    heard = last_heard(timeline, ws)
    @relay.stall
    timeline.wait_for(bound + slack + 1, "the dead-link close") { timeline.of(:close).any? }
    close = timeline.of(:close).first
    expect(close[2]).to eq(1006)
    expect(close[3]).to start_with("no reply to ping for 2 s from 127.0.0.1:#{@relay.port}")
    expect(close[0] - heard).to be <= bound + slack
    expect(timeline.of(:error).map { |e| e[3] }).to eq([WebSocket::Native::ConnectionError])
  ensure
    @relay.resume
  end

  it "reconnects after the hole closes, with every message sent after the reopen arriving, " \
     "while the application keeps writing into the hole" do
    timeline = Support::Timeline.new
    ws = open_client(timeline, connect_timeout: 3, reconnect: { initial: 0.5, max: 2 })
    heard = last_heard(timeline, ws)
    @relay.stall
    stalled_at = WebSocket::Native.now
    held = []
    writer = Thread.new do
      # The kernel (and the relay) accept these writes: nothing tells the client the link is dead.
      # Once the loss is known (CONNECTING), messages are held for the next link.
      60.times do |i|
        text = "into the hole #{i}"
        held << text if ws.ready_state == WebSocket::Native::Client::CONNECTING
        ws.send(text)
        sleep 0.1
      end
    end
    timeline.wait_for(bound + slack + 1, "the dead-link close") { timeline.of(:close).any? }
    close = timeline.of(:close).first
    expect(close[2]).to eq(1006)
    expect(close[3]).to start_with("no reply to ping for 2 s")
    expect(close[4]).to eq(WebSocket::Native::Client::CONNECTING) # a reconnect follows
    expect(close[0] - heard).to be <= bound + slack
    expect(timeline.of(:reconnect).first[2]).to eq(1)

    sleep [10 - (WebSocket::Native.now - stalled_at), 0].max
    writer.join
    @relay.resume
    timeline.wait_for(10, "the reopen") { timeline.of(:open).size == 2 }
    reopened = timeline.of(:open).last[0]
    expect(reopened - stalled_at).to be >= 10
    expect(ws.ready_state).to eq(WebSocket::Native::Client::OPEN)

    after = Array.new(50) { |i| "after the reopen #{i}" }
    after.each { |m| expect(ws.send(m)).to be(true) }
    timeline.wait_for(10, "every echo after the reopen") { (after - timeline.messages).empty? }
    expect(held.size).to be > 10
    expect(timeline.messages.select { |m| held.include?(m) }).to eq(held)
    expect(timeline.messages.select { |m| m.start_with?("after the reopen") }).to eq(after)
    ws.close
    timeline.wait_for(10, "the final close") { timeline.of(:close).size == 2 }
    expect(timeline.of(:close).last[2..4]).to eq([1000, "", WebSocket::Native::Client::CLOSED])
  ensure
    writer&.kill
    @relay.resume
  end
end
