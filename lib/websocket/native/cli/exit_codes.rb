# frozen_string_literal: true

module WebSocket
  module Native
    module CLI
      # The exit status of `websocket-native doctor` and `connect`: 0 only when the whole path
      # works; otherwise the first step that failed. Listed in README and in `--help`.
      module ExitCodes
        OK = 0
        INTERNAL = 1
        USAGE = 2
        BY_STEP = { "url" => 3, "dns" => 4, "tcp" => 5, "proxy" => 6, "tls" => 7, "http" => 8,
                    "websocket" => 9, "connection" => 9 }.freeze
        INTERRUPTED = 130

        HELP = <<~TEXT
          Exit status:
            0  every step works            5  TCP connect failed
            1  internal error              6  proxy CONNECT failed
            2  bad arguments (usage)       7  TLS handshake failed
            3  bad URL or option           8  HTTP upgrade refused
            4  DNS lookup failed           9  WebSocket (pings, close) failed
        TEXT

        module_function

        # @param step [String, Symbol, nil] the first step that failed
        # @return [Integer]
        def for_step(step)
          step.nil? ? OK : BY_STEP.fetch(step.to_s, INTERNAL)
        end
      end
    end
  end
end
