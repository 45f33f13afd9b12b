# frozen_string_literal: true

require "spec_helper"

RSpec.describe "Faults: the server restarts" do
  let(:port) { Support::ServerProcess.free_port }
  let(:policy) { { initial: 0.2, max: 1.6, reset_after: 1 } }

  def start_server
    server = Support::ServerProcess.new(Support::TestServer::BINARY, port.to_s, log: File.join(Dir.tmpdir, "ws-restart-#{port}.log"))
    Support::ServerProcess.wait_for_port(port)
    server
  end

  def ceiling(attempt)
    [policy[:max], policy[:initial] * (2**(attempt - 1))].min
  end

  it "reconnects once the server is back, with attempts spaced as documented" do
    Support::TestServer.build
    server = start_server
    timeline = Support::Timeline.new
    ws = WebSocket::Native::Client.new("ws://127.0.0.1:#{port}/echo", reconnect: policy) { |w| timeline.attach(w) }
    timeline.wait_for(10, "open") { timeline.of(:open).any? }

    server.stop
    timeline.wait_for(5, "the close of the lost link") { timeline.of(:close).any? }
    expect(timeline.of(:close).first[2]).to eq(1006)
    sleep 3
    server = start_server
    timeline.wait_for(10, "the reopen") { timeline.of(:open).size == 2 }

    attempts = timeline.of(:reconnect)
    expect(attempts.map { |a| a[2] }).to eq((1..attempts.size).to_a)
    expect(attempts.size).to be >= 3
    expect(attempts.first[4]).to eq(WebSocket::Native::ConnectionError) # the lost link
    expect(attempts.drop(1).map { |a| a[4] }.uniq).to eq([WebSocket::Native::ConnectError]) # refused
    # Full jitter: each delay lies in [0, min(max, initial * 2**(n-1))], and the next attempt
    # (its failure, or the reopen) comes no sooner than that delay.
    attempts.each { |a| expect(a[3]).to be_between(0, ceiling(a[2])) }
    followers = attempts.drop(1).map(&:first) + [timeline.of(:open).last[0]]
    attempts.zip(followers).each { |a, next_at| expect(next_at - a[0]).to be >= a[3] - 0.005 }
    expect(timeline.sequence.first(4)).to eq(%i[open error close reconnect])

    ws.send("after the restart")
    timeline.wait_for(5, "the echo") { timeline.messages == ["after the restart"] }

    # The link stayed up longer than reset_after: the next loss starts again at attempt 1.
    sleep policy[:reset_after] + 0.2
    server.stop
    timeline.wait_for(5, "the second loss") { timeline.of(:close).size == 2 }
    server = start_server
    timeline.wait_for(10, "the second reopen") { timeline.of(:open).size == 3 }
    later = timeline.events.drop_while { |e| e[1] != :close || e.equal?(timeline.of(:close).first) }
    expect(later.find { |e| e[1] == :reconnect }[2]).to eq(1)
    ws.close
    timeline.wait_for(10, "the final close") { timeline.of(:close).size == 3 }
  ensure
    server&.stop
  end
end
