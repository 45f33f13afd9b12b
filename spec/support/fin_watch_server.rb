# frozen_string_literal: true

require "digest/sha1"
require "socket"
require "timeout"

module Support
  # A minimal WebSocket server in this process that records when each connection's client side
  # hangs up (the FIN), which the Rust test server cannot report. It echoes text frames and
  # answers a close frame with a close frame, then waits for the client to hang up.
  class FinWatchServer
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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
        while (frame = read_frame(socket))
          opcode, payload = frame
          socket.write([0x80 | opcode, payload.bytesize].pack("CC") + payload) if [1, 8].include?(opcode)
        end
        @hangups << Process.clock_gettime(Process::CLOCK_MONOTONIC)
      rescue IOError, SystemCallError
        @hangups << Process.clock_gettime(Process::CLOCK_MONOTONIC)
      ensure
        socket.close
      end
    end

    def handshake(socket)
      head = +""
      head << socket.readpartial(4096) until head.include?("\r\n\r\n")
      key = head[/^Sec-WebSocket-Key:\s*(\S+)/i, 1]
      accept = [Digest::SHA1.digest(key + GUID)].pack("m0")
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
                   "Sec-WebSocket-Accept: #{accept}\r\n\r\n")
    end

    # Small masked frames only (what the specs send); nil at EOF.
    def read_frame(socket)
      head = socket.read(2)
      return nil unless head&.bytesize == 2

      opcode = head.getbyte(0) & 0x0f
      length = head.getbyte(1) & 0x7f
      raise IOError, "frame too large for this server" if length > 125

      mask = socket.read(4).bytes
      payload = socket.read(length).bytes.each_with_index.map { |b, i| b ^ mask[i % 4] }.pack("C*")
      [opcode, payload]
    end
  end
end
