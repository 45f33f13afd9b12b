# frozen_string_literal: true

require "spec_helper"

RSpec.describe "Client#close(wait:)" do
  include Support::Blocking

  let(:server) { Support::TestServer.instance }

  it "on a client from connect waits for the close handshake by default" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url) }
    expect(Timeout.timeout(10) { ws.close(4000, "done") }).to be(true)
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect { ws.receive(timeout: 0) }.to raise_error(WebSocket::Native::ConnectionClosed) { |e|
      expect([e.code, e.reason, e.clean?]).to eq([4000, "done", true])
    }
    expect(ws.close).to be(false) # already closed: returns at once
  end

  it "is bounded by close_timeout when the server never answers the close" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url("/no-close-reply"), close_timeout: 0.5) }
    took = elapsed { Timeout.timeout(10) { ws.close } }
    expect(took).to be_between(0.45, 5)
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect { ws.receive }.to raise_error(WebSocket::Native::ConnectionClosed) { |e|
      expect(e.code).to eq(1006)
      expect(e.reason).to include("did not answer the close handshake within 0.500 s")
    }
  end

  it "wait: false returns at once while closing" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url("/no-close-reply"), close_timeout: 0.5) }
    took = elapsed { expect(ws.close(wait: false)).to be(true) }
    expect(took).to be < 0.4
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSING)
    Timeout.timeout(10) { ws.close(wait: true) } # waits for the end even when another call started it
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
  end

  it "on a client from Client.new returns at once by default, as before, and waits with wait: true" do
    ws = WebSocket::Native::Client.new(server.url("/no-close-reply"), close_timeout: 0.5)
    opened = Queue.new
    ws.on(:open) { opened << true }
    Timeout.timeout(10) { opened.pop }
    expect(ws.close).to be(true)
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSING)
    took = elapsed { Timeout.timeout(10) { ws.close(wait: true) } }
    expect(took).to be > 0.2
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect(Timeout.timeout(1) { ws.close(wait: true) }).to be(false) # after the close event: at once
  end

  it "does not wait inside a callback by default, and refuses wait: true there" do
    outcomes = Queue.new
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url) }
    ws.on(:close) { |e| outcomes << [:close, e.code] }
    WebSocket::Native.run do
      begin
        ws.close(wait: true)
      rescue WebSocket::Native::Error => e
        outcomes << [:refused, e.message]
      end
      outcomes << [:closed, ws.close(4001, "from the reactor thread")]
      outcomes << [:state, ws.ready_state]
      WebSocket::Native.stop
    end
    expect(outcomes.pop.last).to start_with("close(wait: true) cannot wait on the reactor thread")
    expect(outcomes.pop).to eq([:closed, true])
    expect(outcomes.pop).to eq([:state, WebSocket::Native::Client::CLOSING])
    expect(Timeout.timeout(10) { outcomes.pop }).to eq([:close, 4001])
  end

  it "rejects a wait: that is not a boolean" do
    ws = WebSocket::Native::Client.new(server.url)
    expect { ws.close(wait: :yes) }.to raise_error(ArgumentError, "wait: must be true, false or nil, not :yes")
  end
end
