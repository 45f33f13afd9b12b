# frozen_string_literal: true

require "tmpdir"
require "timeout"
require_relative "processes"
require_relative "test_server"

module Support
  # The test server's link mode (testserver/src/relay.rs): a TCP relay on 127.0.0.1 in front of a
  # server port, with delay, jitter, a rate limit and stalls on command.
  class Relay
    attr_reader :port

    # @param to [Integer] the server's port on 127.0.0.1
    # @param delay [Integer] ms added to each direction (a 600 ms round trip is delay: 300)
    # @param jitter [Integer] ms, ± on each chunk (order is kept)
    # @param rate [Integer] bytes per second per direction, 0 for no limit
    def initialize(to:, delay: 0, jitter: 0, rate: 0)
      TestServer.build
      child_in, @commands = IO.pipe
      @answers, child_out = IO.pipe
      log = File.join(Dir.tmpdir, "ws-relay-#{Process.pid}-#{object_id}.log")
      @process = ServerProcess.new(TestServer::BINARY, "relay", "--to", to.to_s, "--delay", delay.to_s,
                                   "--jitter", jitter.to_s, "--rate", rate.to_s, log: log, in: child_in, out: child_out)
      child_in.close
      child_out.close
      @port = Integer(answer[/\Alistening 127\.0\.0\.1:(\d+)\z/, 1])
    end

    # @return [String] ws://127.0.0.1:PORT/path through the relay
    def url(path = "/echo")
      "ws://127.0.0.1:#{@port}#{path}"
    end

    # Stops forwarding on every link, current and new, sockets kept open (a black hole).
    def stall
      command("stall")
    end

    def resume
      command("resume")
    end

    # Each current link stalls for `ms` with probability `percent`; returns how many did.
    def stall_some(percent, ms)
      Integer(command("stall-some #{percent} #{ms}")[/\Aok stalled (\d+)\z/, 1])
    end

    # @return [Integer] links whose client side is connected
    def count
      Integer(command("count")[/\Alinks (\d+)\z/, 1])
    end

    def stop
      @commands.close unless @commands.closed?
      @process.stop
    end

    private

    def command(line)
      @commands.puts(line)
      @commands.flush
      reply = answer
      raise "relay refused #{line.inspect}: #{reply}" if reply.start_with?("error")

      reply
    end

    def answer
      Timeout.timeout(10) { @answers.gets&.chomp } || raise("the relay ended; see its log")
    end
  end
end
