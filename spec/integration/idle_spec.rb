# frozen_string_literal: true

require "spec_helper"

# An idle connection costs nothing but its memory: no thread of the gem wakes up for it, apart
# from the pings asked for with `ping:`. Counted with the kernel's context switches of the gem's
# threads (tokio's and the background reactor's), not with timings.
RSpec.describe "idle connections" do
  let(:server) { Support::TestServer.instance }
  let(:connections) { 50 }

  # @return [Hash{String => Integer}] context switches so far of each of the gem's threads, by
  #   thread id (Linux shortens every one of their names to "websocket-nativ")
  def gem_thread_switches
    Dir.glob("/proc/self/task/*").each_with_object({}) do |task, counts|
      status = File.read("#{task}/status")
      next unless status[/^Name:\s+(.*)$/, 1].start_with?("websocket-nativ")

      counts[File.basename(task)] = status.scan(/ctxt_switches:\s+(\d+)/).sum { |(n)| n.to_i }
    rescue Errno::ENOENT, Errno::ESRCH
      next # the thread ended meanwhile
    end
  end

  # Opens `connections` clients on the background reactor, lets them sit for `seconds`, and returns
  # how many times the gem's threads woke meanwhile (threads present before and after).
  def wakeups_while_idle(seconds, **options)
    opened = Queue.new
    closed = Queue.new
    clients = Array.new(connections) do
      WebSocket::Native::Client.new(server.url, nil, **options).tap do |ws|
        ws.on(:open) { opened << true }
        ws.on(:close) { |e| closed << e.code }
      end
    end
    Timeout.timeout(20) { connections.times { opened.pop } }
    sleep 0.3 # the handshakes' last wake-ups
    before = gem_thread_switches
    sleep seconds
    after = gem_thread_switches
    expect(after.keys & before.keys).not_to be_empty # the measurement saw the gem's threads
    after.sum { |thread, count| before.key?(thread) ? count - before[thread] : 0 }
  ensure
    clients&.each(&:close)
    Timeout.timeout(20) { clients&.size&.times { closed.pop } }
  end

  it "lets 50 open connections sit with no thread of the gem waking up" do
    expect(wakeups_while_idle(1.0)).to be <= 2
  end

  it "wakes for ping: (the same count finds the pings' wake-ups)" do
    expect(wakeups_while_idle(1.0, ping: 0.1, pong_timeout: 10)).to be >= 8
  end
end
