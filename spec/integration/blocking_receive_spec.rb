# frozen_string_literal: true

require "spec_helper"

RSpec.describe "Client#receive and #each_message" do
  include Support::Blocking

  let(:server) { Support::TestServer.instance }

  def connect(path = "/echo", **options, &block)
    Timeout.timeout(30) { WebSocket::Native.connect(server.url(path), **options, &block) }
  end

  it "returns text as UTF-8 and binary as BINARY, byte-exact" do
    connect do |ws|
      binary = (0..255).to_a.pack("C*")
      ws.send("héllo ✓")
      ws.send(binary)
      text = ws.receive(timeout: 5)
      data = ws.receive(timeout: 5)
      expect([text, text.encoding]).to eq(["héllo ✓", Encoding::UTF_8])
      expect([data, data.encoding]).to eq([binary, Encoding::BINARY])
    end
  end

  it "returns nil when the timeout passes first, after about that long" do
    connect do |ws|
      took = elapsed { expect(ws.receive(timeout: 0.3)).to be_nil }
      expect(took).to be >= 0.3
      expect(ws.receive(timeout: 0)).to be_nil
      ws.send("after the timeout")
      expect(ws.receive(timeout: 5)).to eq("after the timeout")
    end
  end

  it "can be interrupted by Timeout and used again afterwards" do
    connect do |ws|
      expect { Timeout.timeout(0.2) { ws.receive } }.to raise_error(Timeout::Error)
      ws.send("still works")
      expect(ws.receive(timeout: 5)).to eq("still works")
    end
  end

  it "rejects a timeout that is not a number of seconds" do
    connect do |ws|
      expect { ws.receive(timeout: -1) }.to raise_error(ArgumentError, /timeout must be nil or a number of seconds >= 0, not -1/)
      expect { ws.receive(timeout: "1") }.to raise_error(ArgumentError)
    end
  end

  it "keeps every message that arrives before the first receive, in order" do
    connect("/send?count=2000") do |ws|
      sleep 0.2 # let them all arrive first
      got = Array.new(2000) { ws.receive(timeout: 5) }
      expect(got).to eq((0...2000).map { |i| "message #{i}" })
    end
  end

  it "wakes a receive blocked when the server closes cleanly: ConnectionClosed with code, reason, was_clean" do
    ws = connect("/close?ms=300&code=4001&reason=maintenance")
    error = nil
    took = elapsed do
      Timeout.timeout(5) { ws.receive }
    rescue WebSocket::Native::ConnectionClosed => e
      error = e
    end
    expect(took).to be >= 0.25
    expect([error.code, error.reason, error.was_clean, error.clean?]).to eq([4001, "maintenance", true, true])
    expect(error.message).to eq("the connection to #{ws.url} is closed (code 4001, clean): maintenance")
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    # And again on every later call.
    expect { ws.receive(timeout: 1) }.to raise_error(WebSocket::Native::ConnectionClosed)
  end

  it "wakes a receive blocked when the server drops the connection: code 1006 with the error's words" do
    ws = connect("/drop?ms=300")
    expect { Timeout.timeout(5) { ws.receive } }.to raise_error(WebSocket::Native::ConnectionClosed) { |e|
      expect([e.code, e.clean?]).to eq([1006, false])
      expect(e.reason).to eq("the server at 127.0.0.1:#{server.port} closed the connection without a WebSocket close frame")
      expect(e.step).to eq(:connection)
      expect(e.error).to be_a(WebSocket::Native::ConnectionError)
      expect(e.error.message).to eq(e.reason)
    }
  end

  it "a protocol violation by the server: ConnectionClosed with the RFC code and the ProtocolError" do
    ws = connect("/invalid-utf8")
    expect { Timeout.timeout(5) { ws.receive } }.to raise_error(WebSocket::Native::ConnectionClosed) { |e|
      expect([e.code, e.clean?]).to eq([1007, false])
      expect(e.error).to be_a(WebSocket::Native::ProtocolError)
      expect(e.reason).to include("sent a text message that is not valid UTF-8")
    }
  end

  it "a clean close carries no error" do
    ws = connect
    ws.close
    expect { ws.receive }.to raise_error(WebSocket::Native::ConnectionClosed) { |e| expect(e.error).to be_nil }
  end

  it "hands out the messages that arrived before the close, then raises" do
    ws = connect("/send?count=3")
    ws.close
    expect(Array.new(3) { ws.receive(timeout: 5) }).to eq(["message 0", "message 1", "message 2"])
    expect { ws.receive(timeout: 5) }.to raise_error(WebSocket::Native::ConnectionClosed) { |e| expect(e.code).to eq(1000) }
  end

  it "each_message yields every message until a normal close and returns the client" do
    ws = connect("/send?count=5")
    seen = []
    result = Timeout.timeout(10) do
      ws.each_message do |data|
        seen << data
        ws.close(wait: false) if seen.size == 5
      end
    end
    expect(seen).to eq((0...5).map { |i| "message #{i}" })
    expect(result).to be(ws)
  end

  it "each_message raises ConnectionClosed after an abnormal close" do
    ws = connect("/drop?ms=200")
    expect { Timeout.timeout(5) { ws.each_message { nil } } }
      .to raise_error(WebSocket::Native::ConnectionClosed) { |e| expect(e.code).to eq(1006) }
  end

  it "each_message without a block is an Enumerator (next, take, and the end at close)" do
    ws = connect("/send?count=4")
    messages = ws.each_message
    expect(messages).to be_a(Enumerator)
    expect(Timeout.timeout(5) { messages.next }).to eq("message 0")
    expect(Timeout.timeout(5) { ws.each_message.take(2) }).to eq(["message 1", "message 2"])
    ws.close(wait: false)
    expect(Timeout.timeout(5) { ws.each_message.to_a }).to eq(["message 3"])
  end

  it "raises for a client from Client.new, whose messages go to callbacks" do
    ws = WebSocket::Native::Client.new(server.url)
    expect(ws.blocking?).to be(false)
    expect { ws.receive(timeout: 0) }.to raise_error(WebSocket::Native::Error, /receive needs a client from WebSocket::Native.connect/)
  ensure
    ws&.close
  end

  it "refuses to wait on the reactor thread" do
    connect do |ws|
      expect(error_on_reactor_thread { ws.receive(timeout: 1) }).to start_with("receive cannot wait on the reactor thread")
    end
  end

  # The rule: one client, one mode for messages. Its other events still reach listeners.
  it "a client from connect refuses :message listeners; its :close events reach listeners" do
    ws = connect
    expect { ws.on(:message) { nil } }.to raise_error(WebSocket::Native::Error, /hands its messages to receive and each_message/)
    expect { ws.onmessage = ->(_) {} }.to raise_error(WebSocket::Native::Error, /not to on\(:message\)/)
    closes = Queue.new
    ws.on(:close) { |e| closes << e.code }
    ws.send("only once")
    expect(ws.receive(timeout: 5)).to eq("only once")
    ws.close
    expect(Timeout.timeout(5) { closes.pop }).to eq(1000)
  end
end

RSpec.describe "Client#receive flow control" do
  let(:server) { Support::TestServer.instance }

  it "unread messages count against the 8 MiB budget: the connection stops reading instead of filling memory" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url("/flood?count=64&size=1048576")) }
    inbox = ws.instance_variable_get(:@inbox)
    sleep 1 # 64 MiB would arrive in far less than this if nothing pushed back
    unread = inbox.instance_variable_get(:@messages).size
    expect(unread).to be_between(4, 9)
    expect(ws.instance_variable_get(:@connection).inbox_bytes).to be <= 9 * 1024 * 1024
    got = Timeout.timeout(60) { Array.new(64) { ws.receive } }
    expect(got.map(&:bytesize).uniq).to eq([1_048_576])
    expect(ws.instance_variable_get(:@connection).inbox_bytes).to eq(0) # every read gave its bytes back
  ensure
    ws&.close
  end

  it "a close with unread messages still completes the handshake (unread messages stop holding the budget)" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url("/flood?count=64&size=1048576"), close_timeout: 3) }
    sleep 0.5 # reading has paused: the budget is full of unread messages
    Timeout.timeout(10) { ws.close }
    unread = 0
    error = begin
      loop do
        ws.receive(timeout: 5)
        unread += 1
      end
    rescue WebSocket::Native::ConnectionClosed => e
      e
    end
    expect([error.code, error.clean?]).to eq([1000, true])
    expect(unread).to be >= 4
  end
end
