# frozen_string_literal: true

module WebSocket
  module Native
    module CLI
      # `websocket-native version`: what to paste into a bug report.
      class Version
        def initialize(out:)
          @out = out
        end

        # @return [Integer] exit status
        def run
          info = Native.build_info
          @out.puts "websocket-native #{VERSION}"
          @out.puts "ruby #{RUBY_VERSION} (#{RUBY_PLATFORM})"
          info.each { |name, version| @out.puts "#{name} #{version}" }
          ExitCodes::OK
        end
      end
    end
  end
end
