# frozen_string_literal: true

require "spec_helper"
require "async"

# Under a fiber scheduler (the async gem), the blocking calls suspend only the calling fiber:
# another fiber ticks a counter, which must advance while the first one waits.
RSpec.describe "blocking calls under the async gem's fiber scheduler" do
  let(:server) { Support::TestServer.instance }

  # Runs the block in one fiber while a second one ticks; yields a reader of the counter.
  def with_ticker
    Timeout.timeout(30) do
      Async do |task|
        ticks = 0
        ticker = task.async do
          loop do
            ticks += 1
            sleep 0.01
          end
        end
        begin
          task.async { yield -> { ticks } }.wait
        ensure
          ticker.stop
        end
      end.wait
    end
  end

  it "a fiber blocked in receive lets the other fibers run" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url) }
    result = Timeout.timeout(30) do
      Async do |task|
        ticks = 0
        task.async do
          ticks += 1 while ticks < 20 && sleep(0.01)
          ws.send("sent by the ticking fiber after #{ticks} ticks")
        end
        task.async { [ws.receive(timeout: 5), ticks] }.wait
      end.wait
    end
    expect(result).to eq(["sent by the ticking fiber after 20 ticks", 20])
  ensure
    ws&.close
  end

  it "a fiber in connect lets the other fibers run (the upgrade reply trickles in)" do
    ws, during = with_ticker do |ticks|
      before = ticks.call
      client = WebSocket::Native.connect(server.url("/trickle?ms=5"))
      [client, ticks.call - before]
    end
    expect(ws.status).to eq(101)
    expect(during).to be >= 5
  end

  it "a fiber in close(wait: true) lets the other fibers run (the server never answers the close)" do
    ws = Timeout.timeout(10) { WebSocket::Native.connect(server.url("/no-close-reply"), close_timeout: 0.5) }
    during = with_ticker do |ticks|
      before = ticks.call
      ws.close(wait: true)
      ticks.call - before
    end
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
    expect(during).to be >= 5
  end

  it "connect failures raise in the calling fiber" do
    port = Support::ServerProcess.free_port
    outcome = with_ticker do
      WebSocket::Native.connect("ws://127.0.0.1:#{port}/")
    rescue WebSocket::Native::ConnectError => e
      e.message
    end
    expect(outcome).to include("connection refused")
  end
end
