# frozen_string_literal: true

require_relative "arguments"
require_relative "exit_codes"

module WebSocket
  module Native
    module CLI
      # What every command does alike: parse the arguments, answer --help, and print usage with
      # exit 2 for bad arguments. Subclasses implement #execute.
      class Command
        # @param name [String] the command's name
        # @param summary [String] the line under the usage line
        # @yieldparam parser [OptionParser] the command's own options
        def initialize(name, summary, argv, out:, err:, &options)
          @name = name
          @argv = argv
          @out = out
          @err = err
          @args = Arguments.new(name, summary, &options)
        end

        # @return [Integer] the exit status
        def run
          @args.parse(@argv)
          return help if @args.help

          execute
        rescue UsageError => e
          @err.puts "websocket-native #{@name}: #{e.message}"
          @err.puts @args.usage
          ExitCodes::USAGE
        end

        private

        def help
          @out.puts @args.usage
          ExitCodes::OK
        end
      end
    end
  end
end
