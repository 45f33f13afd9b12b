# frozen_string_literal: true

require "socket"
require "timeout"

module Support
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
