# frozen_string_literal: true

require "rbconfig"

module Support
  # Runs a faye-websocket scenario script in a fresh Ruby process against one implementation:
  #   :faye        the real faye-websocket + EventMachine (when installed)
  #   :native      websocket/native/faye with the built-in EventMachine stand-in
  #   :native_em   websocket/native/faye with the real EventMachine loaded first
  # The script prints one line per observation; lines are normalised where we differ on purpose.
  module Compat
    LIB = File.expand_path("../../lib", __dir__)

    PRELUDE = <<~'RUBY'
      case ENV.fetch("IMPL")
      when "faye" then require "eventmachine"; require "faye/websocket"
      when "native_em" then require "eventmachine"; require "websocket/native/faye"
      when "native" then require "websocket/native/faye"
      end
      $stdout.sync = true
      PORT = Integer(ENV.fetch("PORT"))
      REFUSED = Integer(ENV.fetch("REFUSED"))
      def url(path) = "ws://127.0.0.1:#{PORT}#{path}"
      def log(*items) = puts(items.map(&:inspect).join(" "))
      def watchdog(seconds = 10) = EM.add_timer(seconds) { log(:watchdog); EM.stop }
      def trace(ws, name = "ws")
        ws.on(:open) { |e| log(name, e.type, ws.ready_state) }
        ws.on(:message) { |e| log(name, e.type, e.data, ws.ready_state) }
        ws.on(:error) { |e| log(name, e.type, ws.ready_state) }
        ws.on(:close) { |e| log(name, e.type, e.code, e.reason, ws.ready_state) }
      end
    RUBY

    def self.faye_available?
      return @faye_available if defined?(@faye_available)

      @faye_available = system(RbConfig.ruby, "-e", 'require "eventmachine"; require "faye/websocket"',
                               out: File::NULL, err: File::NULL)
    end

    # @return [Array<String>] the normalised lines the script printed
    # @param impl [Symbol] :faye, :native, :native_em, or :none (the script requires what it wants)
    # @param raw [Boolean] keep our one-time warnings in the output
    def self.run(impl, body, port:, env: {}, raw: false)
      env = env.merge("IMPL" => impl.to_s, "PORT" => port.to_s, "REFUSED" => ServerProcess.free_port.to_s)
      script = "#{PRELUDE}\n#{body}\nlog(:exit)\n"
      out, status = Support.capture2e(env, RbConfig.ruby, "-I", LIB, "-e", script, timeout: TIMEOUT)
      # EventMachine's C++ prints OpenSSL's error queue on a failed handshake; faye reports it as events too.
      lines = out.lines.map(&:chomp).reject { |l| l.include?("warning:") || l.match?(/\A\h+:error:\h+:SSL routines:/) }
      lines.reject! { |l| l.start_with?("websocket-native") } unless raw
      lines << "exit status #{status&.exitstatus.inspect}" unless status&.success?
      lines.map { |l| normalise(l) }
    end

    # Scripts end on their own in seconds (their watchdogs stop EM after 10 s); a hung one is killed.
    TIMEOUT = 45

    # Close reasons of failures are our own words (faye's were empty or terse): compare the codes.
    def self.normalise(line)
      line.sub(/("close" (1002|1006|1007|1009)) ".*?"( \d+)?\z/) { "#{Regexp.last_match(1)} \"<reason>\"#{Regexp.last_match(3)}" }
    end
  end
end

# One example per scenario and implementation: each run must print the scenario's `expected`
# (PORT there stands for the test server's port).
# `runs` maps an example's description to [impl, env, needs the real EventMachine].
RSpec.shared_examples "side-by-side scenarios" do |scenarios, runs|
  scenarios.each do |name, scenario|
    describe name do
      runs.each do |description, (impl, env, needs_real)|
        it description do
          skip "Debian's ruby-eventmachine / ruby-faye-websocket is not installed" if needs_real && !Support::Compat.faye_available?
          port = Support::TestServer.instance.port
          expected = scenario[:expected].map { |line| line.gsub("PORT", port.to_s) }
          expect(Support::Compat.run(impl, scenario[:code], port: port, env: env)).to eq(expected)
        end
      end
    end
  end
end
