# frozen_string_literal: true

require_relative "command"
require_relative "exit_codes"

module WebSocket
  module Native
    module CLI
      # `websocket-native connect URL`: an interactive client like wscat, on the public Client
      # API. Lines read from stdin are sent; messages are printed (binary as length and hex).
      # Ctrl-C or end of input closes with 1000 and prints the close code and reason.
      class Connect < Command
        SUMMARY = "An interactive client: lines typed are sent, received messages printed."
        HEX_BYTES = 32

        def initialize(argv, out:, err:, input: $stdin)
          @input = input
          super("connect", SUMMARY, argv, out: out, err: err) do |o|
            o.on("--binary", "send each line as a binary message") { @binary = true }
            o.on("--ping SECONDS", Float, "send a ping every SECONDS") { |s| @ping = s }
            o.on("--show-ping-pong", "print pings sent and pongs received") { @show_pings = true }
          end
        end

        private

        # @return [Integer] 0 after a clean close, else the exit code of the step that failed
        def execute
          raise UsageError, "--ping must be more than 0 seconds" if @ping && !@ping.positive?

          @status = ExitCodes::OK
          client = open_client
          WebSocket::Native.run { trap_interrupt(client) }
          @status
        rescue ConfigurationError => e
          @err.puts "websocket-native connect: #{e.message}"
          ExitCodes::BY_STEP["url"]
        end

        def open_client
          Client.new(@args.url, @args.protocols, **@args.client_options) do |ws|
            ws.on(:open) { opened(ws) }
            ws.on(:message) { |e| show(e.data) }
            ws.on(:error) { |e| failed(e) }
            ws.on(:close) { |e| closed(e) }
          end
        end

        def opened(client)
          protocol = client.protocol.to_s.empty? ? "" : " (protocol #{client.protocol})"
          say "connected to #{Masking.url(@args.url)}#{protocol}; type lines to send, Ctrl-C or Ctrl-D to close"
          start_reader(client)
          start_pinger(client) if @ping
        end

        def show(data)
          if data.encoding == Encoding::BINARY
            hex = data.byteslice(0, HEX_BYTES).unpack1("H*").scan(/../).join(" ")
            say "< binary #{data.bytesize} bytes: #{hex}#{' ...' if data.bytesize > HEX_BYTES}"
          else
            say "< #{data}"
          end
        end

        def failed(event)
          @status = ExitCodes.for_step(event.error.respond_to?(:step) ? event.error.step : "connection")
          @status = ExitCodes::INTERNAL if @status == ExitCodes::OK
          @err.puts "! #{event.message}"
        end

        def closed(event)
          say "closed: code #{event.code}, reason #{event.reason.inspect}#{' (not clean)' unless event.was_clean}"
          @status = ExitCodes::BY_STEP["connection"] if @status == ExitCodes::OK && !event.was_clean
          WebSocket::Native.stop
        end

        # Reads stdin on its own thread (send is safe from any thread); EOF closes with 1000.
        def start_reader(client)
          Thread.new do
            while (line = @input.gets)
              text = line.chomp
              client.send(@binary ? text.b : text)
            end
            client.close(1000)
          rescue IOError
            client.close(1000)
          end
        end

        def start_pinger(client)
          Thread.new do
            n = 0
            loop do
              sleep @ping
              n += 1
              sent = Process.clock_gettime(Process::CLOCK_MONOTONIC)
              payload = "ping-#{n}"
              say "> ping #{payload}" if @show_pings
              client.ping(payload) { pong(payload, sent) } || break
            end
          end
        end

        def pong(payload, sent)
          return unless @show_pings

          ms = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - sent) * 1000).round(1)
          say "< pong #{payload} (#{ms} ms)"
        end

        # The first Ctrl-C closes with 1000 (close is safe in a trap); a second one quits.
        def trap_interrupt(client)
          trap("INT") do
            if @interrupted
              exit!(ExitCodes::INTERRUPTED)
            else
              @interrupted = true
              client.close(1000)
            end
          end
        end

        def say(line)
          @out.puts(line)
          @out.flush
        end
      end
    end
  end
end
