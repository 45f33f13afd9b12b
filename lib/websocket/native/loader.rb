# frozen_string_literal: true

require "rbconfig"

module WebSocket
  module Native
    # Finds and loads the compiled core. A platform gem carries one library per Ruby ABI
    # (lib/websocket/native/3.1/websocket_native.so); a gem or checkout built from source has one
    # at lib/websocket/websocket_native.so.
    module Loader
      BASENAME = "websocket_native.#{RbConfig::CONFIG['DLEXT']}".freeze

      class << self
        # Requires the first library that loads: this Ruby's ABI, then the one built from source.
        # @raise [LoadError] naming the running Ruby and the ABIs this gem carries
        # @return [String] the path loaded
        def load_library
          failures = []
          candidates.each do |path|
            next unless File.file?(path)

            begin
              require path
              return path
            rescue LoadError => e
              failures << "#{path}: #{e.message}"
            end
          end
          raise LoadError, message(failures)
        end

        # @return [String] "3.1" for Ruby 3.1.x: extensions built for one minor release fit all its patches
        def abi
          RUBY_VERSION[/\A\d+\.\d+/]
        end

        # @return [Array<String>] the ABIs with a library in this gem, sorted
        def abis_carried
          Dir[File.join(__dir__, "*", BASENAME)].map { |p| File.basename(File.dirname(p)) }
                                                .grep(/\A\d+\.\d+\z/).sort_by { |v| v.split(".").map(&:to_i) }
        end

        private

        def candidates
          [File.join(__dir__, abi, BASENAME), File.expand_path("../#{BASENAME}", __dir__)]
        end

        def message(failures)
          carried = abis_carried
          words = ["websocket-native has no compiled library that loads in Ruby #{RUBY_VERSION} " \
                   "(#{RUBY_PLATFORM}, ABI #{abi})."]
          words << if carried.empty?
                     "This gem carries no precompiled library and none was built from source."
                   else
                     "This gem carries libraries for Ruby #{carried.join(', ')} only, and none was built from source."
                   end
          words << "Tried: #{failures.join('; ')}." unless failures.empty?
          words << "Install the gem built for this Ruby, or build from source: " \
                   "gem install websocket-native --platform ruby (needs cargo, a C compiler, ruby-dev and libclang)."
          words.join(" ")
        end
      end
    end
  end
end

WebSocket::Native::Loader.load_library
