# frozen_string_literal: true

require "fileutils"
require "tmpdir"
require_relative "processes"

module Support
  # Debian's tinyproxy on 127.0.0.1 as a real HTTP CONNECT proxy, optionally demanding Basic
  # credentials. CONNECT is allowed to the given ports only (tinyproxy's own default is 443/563).
  class Tinyproxy
    BINARY = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].find { |p| File.executable?(p) } || "tinyproxy"

    def self.available?
      File.executable?(BINARY)
    end

    attr_reader :port

    # @param connect_ports [Array<Integer>] ports CONNECT may reach
    # @param credentials [String, nil] "user:password" for BasicAuth
    def initialize(connect_ports:, credentials: nil)
      @dir = Dir.mktmpdir("websocket-native-tinyproxy")
      @port = ServerProcess.free_port
      conf = File.join(@dir, "tinyproxy.conf")
      File.write(conf, config(connect_ports, credentials))
      @process = ServerProcess.new(BINARY, "-d", "-c", conf, log: File.join(@dir, "stderr.log"))
      ServerProcess.wait_for_port(@port)
    end

    # @return [String] http://[userinfo@]127.0.0.1:PORT
    def url(userinfo = nil)
      "http://#{userinfo ? "#{userinfo}@" : ''}127.0.0.1:#{@port}"
    end

    def stop
      @process.stop
      FileUtils.rm_rf(@dir)
    end

    private

    def config(ports, credentials)
      lines = ["Port #{@port}", "Listen 127.0.0.1", "Timeout 30", "MaxClients 20", "Allow 127.0.0.1",
               "LogLevel Info", "LogFile \"#{@dir}/tinyproxy.log\"", "PidFile \"#{@dir}/tinyproxy.pid\""]
      lines += ports.map { |p| "ConnectPort #{p}" }
      lines << "BasicAuth #{credentials.sub(':', ' ')}" if credentials
      "#{lines.join("\n")}\n"
    end
  end
end
