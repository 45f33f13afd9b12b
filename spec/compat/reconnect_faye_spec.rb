# frozen_string_literal: true

require "spec_helper"

# The faye layer's reconnect: is ours (faye has none); without it the side-by-side scenarios in
# faye_compat_spec.rb hold the event sequence to faye's.
RSpec.describe "faye drop-in: reconnect:" do
  let(:port) { Support::TestServer.instance.port }

  healthy = <<~'RUBY'
    EM.run do
      watchdog
      ws = Faye::WebSocket::Client.new(url("/echo"), nil, reconnect: true)
      trace(ws)
      ws.on(:open) { ws.send("hello") }
      ws.on(:message) { ws.close }
      ws.on(:close) { EM.stop }
    end
  RUBY

  # /drop answers the upgrade, then hangs up after 200 ms without a close frame.
  lossy = <<~'RUBY'
    EM.run do
      watchdog
      ws = Faye::WebSocket::Client.new(url("/drop?ms=200"), nil, reconnect: { initial: 0.05, max: 0.1 })
      trace(ws)
      opens = 0
      ws.on(:open) { ws.close if (opens += 1) == 3 }
      ws.on(:reconnect) { |e| log("ws", e.type, e.attempt, e.delay <= 0.1, e.class.name, e.error.class.name, ws.ready_state) }
      ws.on(:close) { EM.stop if ws.ready_state == Faye::WebSocket::API::CLOSED }
    end
  RUBY

  %i[native native_em].each do |impl|
    it "keeps faye's sequence on a healthy link, and reports each lost link, attempt and reopen (#{impl})" do
      skip "ruby-eventmachine is not installed" if impl == :native_em && !Support::Compat.faye_available?
      expect(Support::Compat.run(impl, healthy, port: port))
        .to eq(['"ws" "open" 1', '"ws" "message" "hello" 1', '"ws" "close" 1000 "" 3', ":exit"])
      attempt = ->(n) { %("ws" "reconnect" #{n} true "Faye::WebSocket::API::ReconnectEvent" "WebSocket::Native::ConnectionError" 0) }
      # No error events for lost links (faye reports none); our own close on the third link
      # meets the hang-up, so it ends with 1006 too.
      expect(Support::Compat.run(impl, lossy, port: port)).to eq(
        ['"ws" "open" 1', '"ws" "close" 1006 "<reason>" 0', attempt[1],
         '"ws" "open" 1', '"ws" "close" 1006 "<reason>" 0', attempt[2],
         '"ws" "open" 1', '"ws" "close" 1006 "<reason>" 3', ":exit"]
      )
    end
  end
end
