# frozen_string_literal: true

require "fileutils"
require "tmpdir"
require_relative "../spec/support/processes"
require_relative "../spec/support/pki"

module Bench
  # nginx terminating TLS in front of the echo peer, sized for thousands of idle wss connections.
  class Edge
    BINARY = ["/usr/sbin/nginx", "/usr/bin/nginx"].find { |p| File.executable?(p) }

    attr_reader :port, :ca_file, :pid

    def self.available?
      !BINARY.nil?
    end

    def initialize(backend_port)
      pki = Support::PKI.new
      @ca_file = pki.ca_file
      cert, key = pki.server_cert("localhost", dns: %w[localhost])
      @dir = Dir.mktmpdir("websocket-native-bench-edge")
      at_exit { FileUtils.rm_rf(@dir) }
      @port = Support::ServerProcess.free_port
      conf = File.join(@dir, "nginx.conf")
      File.write(conf, config(backend_port, cert, key))
      @process = Support::ServerProcess.new(BINARY, "-p", @dir, "-c", conf, log: File.join(@dir, "stderr.log"))
      @pid = @process.pid
      Support::ServerProcess.wait_for_port(@port)
    end

    def url(path)
      "wss://localhost:#{@port}#{path}"
    end

    private

    def config(backend_port, cert, key)
      %w[client_body proxy fastcgi uwsgi scgi].each { |t| FileUtils.mkdir_p(File.join(@dir, t)) }
      <<~CONF
        daemon off;
        master_process off;
        worker_processes 1;
        worker_rlimit_nofile 19000;
        pid #{@dir}/nginx.pid;
        error_log #{@dir}/error.log warn;
        events { worker_connections 18000; }
        http {
          access_log off;
          client_body_temp_path #{@dir}/client_body;
          proxy_temp_path #{@dir}/proxy;
          fastcgi_temp_path #{@dir}/fastcgi;
          uwsgi_temp_path #{@dir}/uwsgi;
          scgi_temp_path #{@dir}/scgi;
          upstream backend { server 127.0.0.1:#{backend_port}; }
          server {
            listen 127.0.0.1:#{@port} ssl backlog=4096;
            server_name localhost;
            ssl_certificate #{cert};
            ssl_certificate_key #{key};
            ssl_protocols TLSv1.2 TLSv1.3;
            location / {
              proxy_pass http://backend;
              proxy_http_version 1.1;
              proxy_set_header Upgrade $http_upgrade;
              proxy_set_header Connection upgrade;
              proxy_read_timeout 300s;
            }
          }
        }
      CONF
    end
  end
end
