# frozen_string_literal: true

require "tmpdir"
require_relative "processes"

module Support
  # The project's echo/fault server (testserver/, a Rust binary) on 127.0.0.1 and a free port.
  class TestServer
    ROOT = File.expand_path("../..", __dir__)
    BINARY = File.join(ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target")), "release", "ws-test-server")

    def self.instance
      @instance ||= new
    end

    def self.build
      sources = Dir[File.join(ROOT, "testserver/src/*.rs")].map { |f| File.mtime(f) }
      return if File.executable?(BINARY) && File.mtime(BINARY) >= sources.max

      out, status = Support.capture2e("cargo", "build", "--release", "--locked", "-p", "websocket-native-testserver",
                                      chdir: ROOT, timeout: 900)
      raise "building the test server failed:\n#{out}" unless status&.success?
    end

    attr_reader :port

    def initialize
      self.class.build
      @port = ServerProcess.free_port
      @log = File.join(Dir.tmpdir, "ws-test-server-#{Process.pid}.log")
      @process = ServerProcess.new(BINARY, @port.to_s, log: @log)
      ServerProcess.wait_for_port(@port)
    end

    # @return [String] ws://127.0.0.1:PORT/path
    def url(path = "/echo")
      "ws://127.0.0.1:#{@port}#{path}"
    end
  end
end
