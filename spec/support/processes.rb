# frozen_string_literal: true

require "open3"
require "socket"
require "timeout"

module Support
  # Open3.capture2e with a deadline: a command still running after `timeout` seconds is killed
  # (its whole process group) and its status is nil, so no spec can hang on a subprocess.
  # @return [Array(String, Process::Status or nil)]
  def self.capture2e(*command, timeout: 60, **options)
    Open3.popen2e(*command, pgroup: true, **options) do |stdin, out, waiter|
      stdin.close
      reader = Thread.new { out.read }
      return [reader.value, waiter.value] if waiter.join(timeout)

      kill_group(waiter.pid)
      waiter.join
      ["#{reader.value}\n(killed after #{timeout} s)", nil]
    end
  end

  # Waits for a forked child; kills it when it outlives `timeout` seconds.
  # @return [Process::Status, nil] nil when it had to be killed
  def self.wait_child(pid, timeout: 30)
    Timeout.timeout(timeout) { Process.wait2(pid)[1] }
  rescue Timeout::Error
    kill_group(pid, group: false)
    Process.wait(pid)
    nil
  end

  def self.kill_group(pid, group: true)
    Process.kill("KILL", group ? -pid : pid)
  rescue Errno::ESRCH
    nil
  end

  # Spawns a server process for the suite and stops it at exit. Loopback only.
  class ServerProcess
    attr_reader :pid

    def self.free_port
      server = TCPServer.new("127.0.0.1", 0)
      server.addr[1]
    ensure
      server&.close
    end

    def self.wait_for_port(port, seconds: 15)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      loop do
        TCPSocket.new("127.0.0.1", port).close
        return
      rescue SystemCallError
        raise "nothing listens on 127.0.0.1:#{port} after #{seconds} s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

        sleep 0.05
      end
    end

    # @param redirects [Hash] more Process.spawn redirections (e.g. in:, out: pipes)
    def initialize(*command, log:, **redirects)
      @pid = Process.spawn(*command, out: log, err: log, pgroup: true, **redirects)
      at_exit { stop }
    end

    def stop
      return unless @pid

      Process.kill("TERM", @pid)
      Timeout.timeout(5) { Process.wait(@pid) }
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    rescue Timeout::Error
      Process.kill("KILL", @pid)
      Process.wait(@pid)
    ensure
      @pid = nil
    end
  end
end
