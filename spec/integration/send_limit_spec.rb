# frozen_string_literal: true

require "spec_helper"

RSpec.describe "the send limit: bounded memory on the way out" do
  let(:server) { Support::TestServer.instance }

  it "refuses a send over send_limit at once, queues nothing for it, and keeps buffered_amount exact" do
    limit = 2 * 1024 * 1024
    chunk = "s" * (256 * 1024)
    accepted = 0
    seen = nil
    stalled = WebSocket::Native::Client.new(server.url("/stall?seconds=30"), nil, send_limit: limit, close_timeout: 0.3)
    WebSocket::Native.run do
      stalled.on(:open) do
        # The kernel takes some megabytes before the peer's silence shows; the limit then holds.
        loop do
          stalled.send(chunk)
          accepted += 1
        rescue WebSocket::Native::BufferFullError
          break
        end
        # Once the socket buffers are full nothing moves: a refused send changes nothing at all.
        WebSocket::Native::Reactor.instance.add_timer(0.5) do
          # The kernel may still take a little (receive-buffer autotuning): send until refused again.
          20.times do
            before = stalled.buffered_amount
            stalled.send(chunk)
          rescue WebSocket::Native::BufferFullError => e
            seen = [e, before, stalled.buffered_amount]
            break
          end
          stalled.on(:close) { WebSocket::Native.stop }
          stalled.close
        end
      end
    end
    error, buffered, after = seen
    expect(error).to be_a(WebSocket::Native::BufferFullError)
    expect(after).to be <= buffered # the refused message added nothing (the writer may only drain)
    expect(error.step).to eq(:send)
    expect(error.message).to match(/\Asend refused: \d+ bytes are still queued for ws:\/\/127.0.0.1:\d+\/stall\?seconds=30 and this message \(262144 bytes\) would pass send_limit \(2097152 bytes\); nothing was queued, send it again after the :drain event\z/)
    expect(buffered).to be <= limit
    expect(buffered + chunk.bytesize).to be > limit
    # Nothing of the refused message was counted: what is queued is whole accepted messages.
    expect(buffered % chunk.bytesize).to eq(0)
    expect(accepted).to be >= limit / chunk.bytesize
  end

  it "says :drain once half the limit is written, and a sender that waits for it loses nothing" do
    limit = 256 * 1024
    cap = 4096 # 256 MiB: the inbox (8 MiB, unread while we pump) and the kernel fill long before
    total = nil # set at the first refusal: 64 more messages after it, sent as :drain allows
    chunk = ->(i) { format("%04d", i) + ("d" * (64 * 1024 - 4)) }
    sent = 0
    refusals = 0
    drains = []
    received = []
    ws = WebSocket::Native::Client.new(server.url("/echo"), nil, send_limit: limit)
    pump = lambda do
      while sent < (total || cap)
        ws.send(chunk.(sent))
        sent += 1
      end
      total ||= sent
    rescue WebSocket::Native::BufferFullError
      refusals += 1
      total ||= sent + 64
    end
    Timeout.timeout(20) do
      WebSocket::Native.run do
        ws.on(:open) { pump.call }
        ws.on(:drain) do
          drains << ws.buffered_amount
          pump.call
        end
        ws.on(:message) do |e|
          received << e.data[0, 4].to_i
          ws.close if received.size == total
        end
        ws.on(:close) { WebSocket::Native.stop }
      end
    end
    expect(refusals).to be >= 1
    expect(sent).to eq(total)
    # One :drain per refusal (one more when a refused send found room on its second look).
    expect(drains.size).to be >= refusals
    expect(drains.first).to be <= limit / 2
    expect(received).to eq((0...total).to_a)
  end

  it "takes a message larger than the limit when nothing is queued" do
    big = "b" * (1024 * 1024)
    _, log = record(server.url("/echo"), send_limit: 64 * 1024) do |ws, event|
      expect(ws.send(big)).to be(true) if event == [:open]
      ws.close if event.first == :message
    end
    expect(log.map(&:first)).to eq(%i[open message close])
    expect(log[1][1].bytesize).to eq(big.bytesize)
  end

  it "checks the option" do
    expect { WebSocket::Native::Client.new(server.url, nil, send_limit: 0) }
      .to raise_error(WebSocket::Native::ConfigurationError, "send_limit must be a positive Integer, not 0")
  end
end
