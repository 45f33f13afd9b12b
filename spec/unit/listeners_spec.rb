# frozen_string_literal: true

require "spec_helper"

RSpec.describe WebSocket::Native::Listeners do
  let(:server) { Support::TestServer.instance }

  it "delivers kept events first and in order when a listener is attached during a burst" do
    5.times do
      ws = WebSocket::Native::Client.new(server.url("/send?count=2000"))
      ws.on(:open) {}
      Timeout.timeout(10) { sleep 0.0005 until ws.instance_variable_get(:@kept_events)&.[](:message)&.any? }
      got = []
      done = Queue.new
      ws.on(:message) do |e|
        got << e.data[/\d+/].to_i
        done << true if got.size == 2000
      end
      Timeout.timeout(20) { done.pop }
      ws.close
      expect(got).to eq((0...2000).to_a)
    end
  end

  it "keeps the rest of the kept events when a listener raises while they are delivered" do
    ws = WebSocket::Native::Client.new(server.url("/send?count=5"))
    ponged = Queue.new
    ws.on(:open) { ws.ping("after the messages") { ponged << true } }
    Timeout.timeout(5) { ponged.pop } # the pong follows the five messages: all five are kept by now
    got = Queue.new
    expect do
      ws.on(:message) do |e|
        got << e.data
        raise "listener failed on #{e.data}" if e.data == "message 1"
      end
      sleep 0.5
    end.to output(/listener failed on message 1/).to_stderr
    expect(Array.new(5) { Timeout.timeout(5) { got.pop } }).to eq((0...5).map { |i| "message #{i}" })
    ws.close
  end

  it "runs the on<type> handler before listeners, and off removes a listener" do
    order = []
    _, log = record(server.url("/send?count=2")) do |ws, event|
      next unless event == [:open]

      second = ->(e) { order << [:listener, e.data] }
      ws.onmessage = ->(e) { order << [:handler, e.data] }
      ws.on(:message, &second)
      ws.on(:message) { |e| ws.off(:message, &second); ws.close if e.data == "message 1" }
    end
    expect(order).to eq([[:handler, "message 0"], [:listener, "message 0"], [:handler, "message 1"]])
    expect(log.last).to eq([:close, 1000, "", true])
  end
end
