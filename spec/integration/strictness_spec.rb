# frozen_string_literal: true

require "spec_helper"

# Issue 15's two strictness behaviours, against an in-process server that sends exactly the
# frames each needs and records what the client wrote back.
RSpec.describe "strict protocol handling" do
  include Support::Recorder
  include Support::RawFrames

  # Serves each connection with `script` (after the handshake), then records the client's
  # frames until its close frame; yields the port and a queue of [opcode, payload].
  def with_scripted_server(script)
    received = Thread::Queue.new
    handler = lambda do |socket|
      Thread.new do
        handshake(socket)
        script.call(socket)
        while (got = read_frame(socket))
          received << got
          break if got.first == 8
        end
      rescue IOError, SystemCallError
        nil
      ensure
        received << :eof
        socket.close
      end
    end
    with_tcp_server(handler) { |port| yield port, received }
  end

  def frames_until_eof(received)
    frames = []
    Timeout.timeout(5) do
      while (got = received.pop) != :eof
        frames << got
      end
    end
    frames
  rescue Timeout::Error
    raise "the server saw no end of the connection"
  end

  it "writes the replies to earlier messages before the close frame that fails the connection" do
    broken = ->(socket) { socket.write(frame(1, "one") + frame(1, "two") + frame(3, "?")) }
    with_scripted_server(broken) do |port, received|
      last_message = nil
      _, log = record("ws://127.0.0.1:#{port}/") do |ws, event|
        next unless event.first == :message

        sleep 0.05 # a callback that takes a moment: the failure is already known by now
        ws.send("re: #{event[1]}")
        last_message = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end
      # The client's barrier let the close go right after the replies, not after the session's
      # 1 s grace for a reactor that never answers.
      expect(Process.clock_gettime(Process::CLOCK_MONOTONIC) - last_message).to be < 0.8
      expect(log.map(&:first)).to eq(%i[open message message error close])
      expect(log.last[1]).to eq(1002)
      expect(log[3][1]).to include("it used the reserved opcode 3")

      frames = frames_until_eof(received)
      expect(frames[0, 2]).to eq([[1, "re: one"], [1, "re: two"]])
      expect(frames[2][0]).to eq(8)
      expect(frames[2][1].unpack1("n")).to eq(1002)
    end
  end

  it "sends the failure's close code even when a callback asks to close meanwhile" do
    broken = ->(socket) { socket.write(frame(1, "one") + frame(3, "?")) }
    with_scripted_server(broken) do |port, received|
      _, log = record("ws://127.0.0.1:#{port}/") do |ws, event|
        next unless event.first == :message

        ws.send("bye")
        ws.close(1000, "done")
      end
      expect(log.last[1]).to eq(1002)
      frames = frames_until_eof(received)
      expect(frames.map(&:first)).to eq([1, 8])
      expect(frames.last[1].unpack1("n")).to eq(1002)
    end
  end

  it "never sends a second close frame when the server breaks the protocol after ours" do
    frames = Thread::Queue.new
    handler = lambda do |socket|
      Thread.new do
        handshake(socket)
        while (got = read_frame(socket))
          frames << got
          socket.write(frame(3, "?")) if got.first == 8 # a violation instead of the close reply
        end
      rescue IOError, SystemCallError
        nil
      ensure
        frames << :eof
        socket.close
      end
    end
    with_tcp_server(handler) do |port|
      _, log = record("ws://127.0.0.1:#{port}/") { |ws, event| ws.close(1000, "bye") if event == [:open] }
      expect(log.last[1]).to eq(1002)
      sent = frames_until_eof(frames)
      expect(sent.map(&:first)).to eq([8])
      expect(sent.first[1]).to eq([1000].pack("n") + "bye")
    end
  end

  it "fails a text frame at its first invalid byte, while the rest of the frame is still to come" do
    # A 1000-byte text frame of which only 12 bytes ever arrive; the last two are not UTF-8.
    dribble = lambda do |socket|
      socket.write(frame(1, "before"))
      socket.write([0x81, 126, 1000].pack("CCn") + "κόσμε".b + "\xC3\x28".b)
    end
    with_scripted_server(dribble) do |port, received|
      _, log = record("ws://127.0.0.1:#{port}/", limit: 10)
      expect(log.map(&:first)).to eq(%i[open message error close])
      expect(log[1]).to eq([:message, "before"])
      expect(log[2][1]).to include("not valid UTF-8", "after 10 valid bytes", "as soon as the bad bytes arrived")
      expect(log.last[1]).to eq(1007)
      close_frame = frames_until_eof(received).last
      expect([close_frame[0], close_frame[1].unpack1("n")]).to eq([8, 1007])
    end
  end
end
