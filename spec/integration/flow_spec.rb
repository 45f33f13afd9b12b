# frozen_string_literal: true

require "spec_helper"

RSpec.describe "flow control, liveness and slow peers" do
  let(:server) { Support::TestServer.instance }

  it "stops reading when callbacks fall behind, so memory stays bounded (8 MiB budget per connection)" do
    queued = []
    batches = []
    count = 0
    # ping: on as well: while we are the slow side, the server's silence must not count against it.
    _, log = record(server.url("/flood?count=320&size=1048576"), ping: 0.2, limit: 120) do |ws, event|
      next unless event.first == :message

      count += 1
      queued << ws.instance_variable_get(:@connection).inbox_bytes
      backlog = WebSocket::Native::Reactor.instance.instance_variable_get(:@backlog)
      batches << backlog.each_slice(WebSocket::Native::Reactor::STRIDE).sum { |e| e[2].is_a?(String) ? e[2].bytesize : 0 }
      sleep 0.01 # a slow callback: 320 MiB arrive much faster than this consumes them
      ws.close if count == 320
    end
    expect(count).to eq(320), "ended early: #{log.last.inspect}"
    expect(log.last[0..1]).to eq([:close, 1000])
    # The core had a backlog, but never more than the budget plus the message being read.
    expect(queued.max).to be > 4 * 1024 * 1024
    expect(queued.max).to be <= 9 * 1024 * 1024
    # And the reactor's batch in Ruby stays near 1 MiB: nothing piles up on either side.
    expect(batches.max).to be <= 2 * 1024 * 1024
  end

  it "bounds a flood of empty messages too: each counts against the budget" do
    total = 200_000
    queued = nil
    count = 0
    _, log = record(server.url("/flood?count=#{total}&size=0"), limit: 60) do |ws, event|
      next unless event.first == :message

      count += 1
      if count == 1
        sleep 1 # meanwhile the server sends all of them: the core must stop reading at the budget
        queued = ws.instance_variable_get(:@connection).inbox_bytes
      end
      ws.close if count == total
    end
    expect(count).to eq(total), "ended early: #{log.last.inspect}"
    # The budget (8 MiB) plus what one read had decoded: 64 KiB of 2-byte frames, 64 B each.
    expect(queued).to be > 4 * 1024 * 1024
    expect(queued).to be <= 10 * 1024 * 1024 + 512 * 1024
  end

  it "drops a link that answers no ping within pong_timeout (default: the ping interval)" do
    _, log = record(server.url("/deaf"), ping: 0.2)
    expect(log[0]).to eq([:open])
    expect(log[1][1]).to eq("no reply to ping for 0.200 s from 127.0.0.1:#{server.port}: nothing came back, not even a pong " \
                            "(pong_timeout); the connection is presumed dead and was dropped")
    expect(log[1][2]).to eq(WebSocket::Native::ConnectionError)
    expect(log[2][0..1]).to eq([:close, 1006])
  end

  it "times the pong deadline from the ping: the close comes within ping + pong_timeout of the last frame" do
    # Counted from before the connection opens: the core's clocks start at its open, which comes
    # before Ruby runs the :open callback (a busy machine delays that callback, not the core).
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    _, log = record(server.url("/deaf"), ping: 0.3, pong_timeout: 0.6, limit: 10)
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    expect(log[1][1]).to start_with("no reply to ping for 0.600 s")
    expect(elapsed).to be >= 0.9 # the first ping goes out after 0.3 s, then 0.6 s of silence
  end

  it "keeps a silent link open when pong_timeout is false: ping: alone only sends pings" do
    _, log = record(server.url("/deaf"), ping: 0.05, pong_timeout: false, close_timeout: 0.5) do |ws, event|
      WebSocket::Native::Reactor.instance.add_timer(0.6) { ws.close(1000) } if event == [:open]
    end
    # /deaf never answers, so the close handshake itself times out, but no ping dropped the link first.
    expect(log[0]).to eq([:open])
    expect(log[1][1]).to include("did not answer the close handshake")
  end

  it "applies pong_timeout to the application's own pings when ping: is off" do
    _, log = record(server.url("/deaf"), pong_timeout: 0.2) do |ws, event|
      ws.ping("are you there") if event == [:open]
    end
    expect(log[1][1]).to start_with("no reply to ping for 0.200 s")
  end

  it "counts write progress as proof of life while pings wait behind an upload" do
    data = "u" * (3 * 1024 * 1024)
    _, log = record(server.url("/slow-read?kib=256"), ping: 0.3, limit: 30) do |ws, event|
      ws.send(data) if event == [:open]
    end
    # /slow-read never answers a ping: once the upload is through, silence ends the connection,
    # but not before: nothing given to send is lost.
    expect(log[1][1]).to start_with("no reply to ping for 0.300 s from 127.0.0.1:#{server.port}")
    expect(log[1][1]).not_to include("not delivered")
  end

  it "keeps a live connection with pings open" do
    _, log = record(server.url("/echo"), ping: 0.1) do |ws, event|
      WebSocket::Native::Reactor.instance.add_timer(0.6) { ws.close } if event == [:open]
    end
    expect(log).to eq([[:open], [:close, 1000, "", true]])
  end

  it "gives a slow but reading peer the time it needs before the close frame (deadline counts from progress)" do
    data = "d" * (3 * 1024 * 1024)
    _, log = record(server.url("/slow-read?kib=256"), close_timeout: 1, limit: 30) do |ws, event|
      if event == [:open]
        ws.send(data)
        ws.close
      end
    end
    # About 12 s of reading at 2.5 MiB/s would not fit a fixed 1 s deadline; every byte is written,
    # then the server (which never answers) fails the close handshake itself.
    expect(log.last[0..1]).to eq([:close, 1006])
    expect(log.last[2]).to eq("127.0.0.1:#{server.port} did not answer the close handshake within 1 s (close_timeout); " \
                              "the connection was dropped")
  end

  it "names the proxy when it cannot be reached" do
    port = Support::ServerProcess.free_port
    _, log = record(server.url, proxy: "http://127.0.0.1:#{port}")
    expect(log.first[1]).to eq("could not reach the proxy 127.0.0.1:#{port} (the proxy: option): TCP connection failed: " \
                               "127.0.0.1:#{port}: connection refused (nothing is listening on that port, or a firewall rejected it)")
    expect(log.first[2]).to eq(WebSocket::Native::ConnectError)
  end

  it "quotes a chunked refusal page by its text, not its chunk size" do
    _, log = record(server.url("/status?chunked=1"))
    expect(log.first[1]).to include('"HTTP/1.1 403 Forbidden" saying "Site blocked"')
  end
end
