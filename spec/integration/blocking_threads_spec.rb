# frozen_string_literal: true

require "spec_helper"

RSpec.describe "blocking calls from several threads" do
  let(:server) { Support::TestServer.instance }

  it "one thread sits in receive while others send: every message arrives once, each sender's in order" do
    senders = 4
    per_sender = 250
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url) }
    received = []
    receiver = Thread.new do
      Timeout.timeout(30) { received << ws.receive while received.size < senders * per_sender }
    end
    sleep 0.05 # the receiver is blocked before the first send
    threads = Array.new(senders) do |s|
      Thread.new { per_sender.times { |i| ws.send("#{s}:#{i}") } }
    end
    threads.each(&:join)
    receiver.join
    expect(received.size).to eq(senders * per_sender)
    expect(received.uniq.size).to eq(received.size)
    senders.times do |s|
      mine = received.select { |m| m.start_with?("#{s}:") }
      expect(mine).to eq((0...per_sender).map { |i| "#{s}:#{i}" })
    end
  ensure
    ws&.close
  end

  it "several threads in receive share the messages: each is handed to exactly one" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url) }
    got = Queue.new
    receivers = Array.new(3) do
      Thread.new do
        loop { got << ws.receive }
      rescue WebSocket::Native::ConnectionClosed
        nil
      end
    end
    300.times { |i| ws.send("m#{i}") }
    messages = Timeout.timeout(20) { Array.new(300) { got.pop } }
    expect(messages.sort).to eq((0...300).map { |i| "m#{i}" }.sort)
    Timeout.timeout(10) { ws.close }
    Timeout.timeout(10) { receivers.each(&:join) } # the close wakes every waiting receiver
    expect(got).to be_empty
  end
end
