# frozen_string_literal: true

require "digest/sha1"

module Support
  # The server's side of RFC 6455 in a few lines, for in-process servers that must send frames
  # the Rust test server would not (or record what the client sent).
  module RawFrames
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    module_function

    # Reads the client's upgrade request and accepts it.
    def handshake(socket)
      head = +""
      head << socket.readpartial(4096) until head.include?("\r\n\r\n")
      key = head[/^Sec-WebSocket-Key:\s*(\S+)/i, 1]
      accept = [Digest::SHA1.digest(key + GUID)].pack("m0")
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
                   "Sec-WebSocket-Accept: #{accept}\r\n\r\n")
    end

    # A server frame (unmasked) of up to 64 KiB.
    # @return [String] its bytes
    def frame(opcode, payload, fin: true)
      payload = payload.b
      head = [(fin ? 0x80 : 0) | opcode].pack("C")
      head << (payload.bytesize < 126 ? [payload.bytesize].pack("C") : [126, payload.bytesize].pack("Cn"))
      head + payload
    end

    # Small masked frames only (what the specs send).
    # @return [Array(Integer, String), nil] opcode and payload; nil at EOF
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
