# frozen_string_literal: true

require "spec_helper"

RSpec.describe "garbage collection at the native boundary" do
  let(:server) { Support::TestServer.instance }

  it "keeps every object of a drained batch alive while GC runs at each allocation" do
    ws = nil
    got = []
    stressed = []
    Timeout.timeout(60) do
      # This thread is the reactor from here on, so nothing is dispatched until the block returns:
      # the twenty messages queue up in the core and one drain converts them all under stress.
      WebSocket::Native.run do
        ws = WebSocket::Native::Client.new(server.url("/send?count=20"))
        ws.on(:message) do |e|
          got << e.data.dup
          stressed << GC.stress
          ws.close if got.size == 20
        end
        ws.on(:close) { WebSocket::Native.stop }
        sleep 0.3
        GC.stress = true
      end
    ensure
      GC.stress = false
    end
    expect(got).to eq((0...20).map { |i| "message #{i}" })
    expect(stressed).to all(be(true))
    expect(ws.headers["x-test-server"]).to eq("websocket-native")
  end

  it "survives GC.start and GC.compact inside callbacks" do
    _, log = record(server.url) do |ws, event, all|
      GC.start
      GC.compact if GC.respond_to?(:compact)
      ws.send("x" * 1000) if event == [:open]
      ws.close if all.size == 2
    end
    expect(log).to eq([[:open], [:message, "x" * 1000], [:close, 1000, "", true]])
  end
end
