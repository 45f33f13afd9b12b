# frozen_string_literal: true

require "open3"
require "timeout"

module Support
  # Runs exe/websocket-native as a subprocess with a deadline (killed when it expires).
  module CLI
    EXE = File.expand_path("../../exe/websocket-native", __dir__)
    LIB = File.expand_path("../../lib", __dir__)

    # @return [Array(String, String, Process::Status)] stdout, stderr, status
    def run_cli(*args, env: {}, limit: 60, stdin: "")
      Open3.popen3(env, RbConfig.ruby, "-I", LIB, EXE, *args, pgroup: true) do |i, o, e, thread|
        i.write(stdin)
        i.close
        out = Thread.new { o.read }
        err = Thread.new { e.read }
        unless thread.join(limit)
          Process.kill("KILL", -thread.pid)
          raise "websocket-native #{args.first} did not finish within #{limit} s"
        end
        [out.value, err.value, thread.value]
      end
    end
  end
end
