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

  # Opens `connections` clients on the background reactor and lets them sit for up to `windows`
  # spans of `seconds`: returns the fewest times the gem's threads woke in one span (threads
  # present before and after it). More than one span lets work that earlier specs left (the
  # message-buffer pool's sweeper ends 1-2 s after the last large message) finish; a timer of the
  # connections would wake them in every span.
  def fewest_wakeups(windows, seconds, **options)
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
    counts = []
    windows.times do
      before = gem_thread_switches
      sleep seconds
      after = gem_thread_switches
      expect(after.keys & before.keys).not_to be_empty # the measurement saw the gem's threads
      counts << after.sum { |thread, count| before.key?(thread) ? count - before[thread] : 0 }
      break if counts.last.zero?
    end
    counts.min
  ensure
    clients&.each(&:close)
    Timeout.timeout(20) { clients&.size&.times { closed.pop } }
  end

  it "lets 50 open connections sit with no thread of the gem waking up" do
    expect(fewest_wakeups(3, 1.0)).to be <= 2
  end

  it "wakes for ping: (the same count finds the pings' wake-ups)" do
    expect(fewest_wakeups(1, 1.0, ping: 0.1, pong_timeout: 10)).to be >= 8
  end
end
