# frozen_string_literal: true

require "spec_helper"
require "rbconfig"

# A failure while the reactor dispatches a drained batch must not strand the rest of it (such as
# the close event): the client must reach CLOSED. Each case runs in its own process, because it
# breaks the background reactor's surroundings ($stderr, the thread itself).
RSpec.describe "failures while dispatching a batch" do
  let(:server) { Support::TestServer.instance }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  # The message callback fails in `failure` (Ruby code); the close that follows must still arrive.
  def outcome(setup, failure)
    script = <<~RUBY
      require "websocket/native"
      #{setup}
      closed = Thread::Queue.new
      ws = WebSocket::Native::Client.new("#{server.url}")
      ws.on(:open) { ws.send("boom"); ws.close(4000, "after boom") }
      ws.on(:message) { #{failure} }
      ws.on(:close) { |e| closed << [e.code, e.reason] }
      deadline = Time.now + 5
      Thread.pass until !closed.empty? || Time.now > deadline
      STDOUT.puts(closed.empty? ? "stuck in state \#{ws.ready_state}" : closed.pop.inspect)
      STDOUT.flush
      exit!(0)
    RUBY
    Support::TimedCommand.capture(RbConfig.ruby, "-I", lib, "-e", script, seconds: 30).first
  end

  it "delivers the close after a callback raised while $stderr cannot be written (a full disk)" do
    out = outcome('$stderr = File.open("/dev/full", "w"); $stderr.sync = true', 'raise "boom"')
    expect(out).to eq(%([4000, "after boom"]\n))
  end

  it "delivers the close after a callback raised a signal exception on the background reactor" do
    out = outcome("", "raise Interrupt")
    expect(out).to include("Interrupt") # the dying thread's report
    expect(out.lines.last).to eq(%([4000, "after boom"]\n))
  end
end
