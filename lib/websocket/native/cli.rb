# frozen_string_literal: true

require_relative "../native"
require_relative "cli/exit_codes"
require_relative "cli/arguments"
require_relative "cli/version"
require_relative "cli/doctor"
require_relative "cli/connect"

module WebSocket
  module Native
    # `websocket-native doctor | connect | version`: the gem's command-line tools for operators.
    module CLI
      USAGE = <<~TEXT
        Usage: websocket-native COMMAND [options]

        Commands:
          doctor URL    check each step of a connection and say what to fix
          connect URL   an interactive client: lines typed are sent, messages printed
          version       versions of the gem, Ruby and the Rust libraries built in

        `websocket-native COMMAND --help` lists a command's options.
      TEXT

      module_function

      # @param argv [Array<String>]
      # @return [Integer] the exit status
      def main(argv, out: $stdout, err: $stderr)
        command, *rest = argv
        case command
        when "doctor" then Doctor.new(rest, out: out, err: err).run
        when "connect" then Connect.new(rest, out: out, err: err).run
        when "version", "--version", "-v" then Version.new(out: out).run
        when "help", "--help", "-h"
          out.puts USAGE
          ExitCodes::OK
        else
          err.puts(command ? "websocket-native: unknown command #{command.inspect}" : "websocket-native: no command given")
          err.puts USAGE
          ExitCodes::USAGE
        end
      rescue Interrupt
        ExitCodes::INTERRUPTED
      end
    end
  end
end
