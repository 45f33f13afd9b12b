# frozen_string_literal: true

require "socket"
require "timeout"
require_relative "raw_frames"

module Support
  # A minimal WebSocket server in this process that records when each connection's client side
  # hangs up (the FIN), which the Rust test server cannot report. It echoes text frames and
  # answers a close frame with a close frame, then waits for the client to hang up.
  class FinWatchServer
    include RawFrames

    attr_reader :port

    def initialize
      @server = TCPServer.new("127.0.0.1", 0)
      @port = @server.addr[1]
      @hangups = Thread::Queue.new
      @thread = Thread.new { loop { serve(@server.accept) } rescue IOError }
    end

    def url
      "ws://127.0.0.1:#{@port}/"
    end

    # @return [Float, nil] the monotonic time of the next client hang-up, nil after `seconds`
    def next_hangup(seconds)
      Timeout.timeout(seconds) { @hangups.pop }
    rescue Timeout::Error
      nil
    end

    def stop
      @server.close
      @thread.join(5)
    end

    private

    def serve(socket)
      Thread.new do
        handshake(socket)
        while (got = read_frame(socket))
          opcode, payload = got
          socket.write(frame(opcode, payload)) if [1, 8].include?(opcode)
        end
        @hangups << Process.clock_gettime(Process::CLOCK_MONOTONIC)
      rescue IOError, SystemCallError
        @hangups << Process.clock_gettime(Process::CLOCK_MONOTONIC)
      ensure
        socket.close
      end
    end
  end
end
