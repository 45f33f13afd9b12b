# frozen_string_literal: true

require "logger"
require_relative "masking"

module WebSocket
  module Native
    # Optional logging of each connection's steps. Off by default; when off the core is not even
    # asked for step lines, so the message path is unchanged.
    #
    # @example
    #   WebSocket::Native.logger = Logger.new($stderr)    # every client
    #   Client.new(url, logger: Logger.new("ws.log"))     # one client (false: none)
    #   # or, without code changes: WEBSOCKET_NATIVE_LOG=debug (info, warn) logs to stderr
    module Logging
      LEVELS = { "debug" => Logger::DEBUG, "info" => Logger::INFO, "warn" => Logger::WARN,
                 "error" => Logger::ERROR }.freeze
      ENV_NAME = "WEBSOCKET_NATIVE_LOG"

      module_function

      # @return [Logger, nil] a stderr logger at the level named by WEBSOCKET_NATIVE_LOG
      def from_env(env = ENV)
        name = env[ENV_NAME].to_s.strip.downcase
        return nil if name.empty? || %w[0 off false none].include?(name)

        level = LEVELS.fetch(name) do
          warn "websocket-native: #{ENV_NAME}=#{name} is not one of #{LEVELS.keys.join(', ')}; using debug"
          Logger::DEBUG
        end
        Logger.new($stderr, level: level, progname: "websocket-native")
      end

      # @param option [Logger, false, nil] a client's logger: option (nil: the global one)
      # @return [Logger, nil]
      def resolve(option)
        return nil if option == false

        option || Native.logger
      end

      # @return [Boolean] true for something that can be used as a logger
      def logger?(value)
        %i[debug info warn error].all? { |m| value.respond_to?(m) }
      end

      # The log of one connection: every line names it by a short id and its URL (secrets masked).
      class Connection
        # @param logger [Logger]
        # @param id [Integer] the client's id in this process
        # @param url [String]
        def initialize(logger, id, url)
          @logger = logger
          @name = "ws##{id} #{Masking.url(url)}"
        end

        # A finished dial step reported by the core (dns, tcp, proxy, tls, upgrade).
        # @return [void]
        def step(_step, line)
          @logger.debug { "#{@name}: #{line}" }
        end

        # @return [void]
        def opened(status, protocol)
          @logger.debug { "#{@name}: open (status #{status}#{", protocol #{protocol}" unless protocol.to_s.empty?})" }
        end

        # @return [void]
        def failed(step, message)
          @logger.error { "#{@name}: #{step} failed: #{message}" }
        end

        # A clean close is routine (debug); anything else is worth a warning.
        # @return [void]
        def closed(code, reason, clean)
          line = "#{@name}: close #{code}#{" #{reason.inspect}" unless reason.to_s.empty?}#{' (not clean)' unless clean}"
          clean ? @logger.debug(line) : @logger.warn(line)
        end

        # @return [void]
        def insecure
          @logger.warn { "#{@name}: tls verify_peer is false: the server's certificate is not checked" }
        end
      end
    end

    @logger = Logging.from_env

    class << self
      # @return [Logger, nil] the logger every client uses unless it is given its own
      attr_reader :logger

      # @param logger [Logger, nil]
      def logger=(logger)
        raise ArgumentError, "logger must respond to debug, info, warn and error, not #{logger.inspect}" unless logger.nil? || Logging.logger?(logger)

        @logger = logger
      end
    end
  end
end
