# frozen_string_literal: true

require "spec_helper"

RSpec.describe "Faults: 200 links through the relay with random stalls" do
  let(:server) { Support::TestServer.instance }

  around do |example|
    @relay = Support::Relay.new(to: server.port, delay: 20, jitter: 10)
    example.run
  ensure
    @relay.stop
  end

  it "all end up connected again, and nothing sent after a reopen is lost" do
    timelines = Array.new(200) { Support::Timeline.new }
    clients = timelines.map do |timeline|
      WebSocket::Native::Client.new(@relay.url, ping: 1, connect_timeout: 5,
                                                reconnect: { initial: 0.5, max: 2 }) do |ws|
        timeline.attach(ws)
        # Each link, once open, says which link it is; its echo must come back on that link.
        ws.on(:open) { ws.send("link #{timeline.of(:open).size}") }
      end
    end
    timelines.each { |t| t.wait_for(20, "every open") { t.of(:open).any? } }
    expect(@relay.count).to eq(200)

    stalled = 2.times.sum do
      n = @relay.stall_some(30, 3000)
      sleep 3.5
      n
    end
    expect(stalled).to be > 60

    lost = timelines.count { |t| t.of(:close).any? }
    expect(lost).to be > 40
    timelines.each do |t|
      t.wait_for(20, "every lost link to reopen") { t.of(:open).size == t.of(:close).size + 1 }
    end
    clients.each { |ws| expect(ws.ready_state).to eq(WebSocket::Native::Client::OPEN) }

    # After the last reopen every client sends 20 messages; all arrive, in order.
    clients.each_with_index { |ws, i| 20.times { |k| ws.send("client #{i} message #{k}") } }
    timelines.each_with_index do |t, i|
      want = Array.new(20) { |k| "client #{i} message #{k}" }
      t.wait_for(20, "client #{i}'s echoes") { (want - t.messages).empty? }
      expect(t.messages.grep(/\Aclient /)).to eq(want)
      # Every reopened link echoed its greeting: nothing sent after a reopen was lost.
      expect(t.messages.grep(/\Alink /).last).to eq("link #{t.of(:open).size}")
      expect(t.of(:reconnect).size).to be >= t.of(:close).size
    end
    clients.each(&:close)
    timelines.each { |t| t.wait_for(20, "every close") { t.of(:close).last&.at(4) == WebSocket::Native::Client::CLOSED } }
  end
end
