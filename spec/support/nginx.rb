# frozen_string_literal: true

require "fileutils"
require "tmpdir"
require_relative "processes"
require_relative "pki"
require_relative "test_server"

module Support
  # nginx as an SNI-gated TLS terminator in front of the test server, like an edge host that
  # serves many apps on one IP: a handshake without a known SNI name is refused
  # (alert unrecognized_name); `localhost` and `app.test` are proxied to the echo server;
  # `expired.test` has an expired certificate; `wrongname.test` presents one for other.test;
  # `mtls.test` wants a client certificate signed by the test CA. On `public_port`, `localhost`
  # has a certificate from the second CA (PKI#other_ca_file), which specs use as "system roots".
  # On `tls12_port`, `localhost` speaks TLS 1.2 only.
  class Nginx
    BINARY = ["/usr/sbin/nginx", "/usr/bin/nginx"].find { |p| File.executable?(p) } || "nginx"

    def self.instance
      @instance ||= new
    end

    attr_reader :port, :public_port, :tls12_port, :dir

    # @param connections [Integer] worker_connections (the benchmark holds thousands open)
    def initialize(backend_port: TestServer.instance.port, pki: PKI.instance, connections: 4096)
      @connections = connections
      @dir = Dir.mktmpdir("websocket-native-nginx")
      at_exit { FileUtils.rm_rf(@dir) }
      @port = ServerProcess.free_port
      @public_port = ServerProcess.free_port
      @tls12_port = ServerProcess.free_port
      @pki = pki
      File.write(conf_path, config(backend_port))
      @process = ServerProcess.new(BINARY, "-p", @dir, "-c", conf_path, log: File.join(@dir, "stderr.log"))
      ServerProcess.wait_for_port(@port)
    end

    def conf_path
      File.join(@dir, "nginx.conf")
    end

    # @return [String] wss://HOST:PORT/path
    def url(path = "/echo", host: "localhost")
      "wss://#{host}:#{@port}#{path}"
    end

    private

    def site(names, cert, key, extra = "", port: @port, protocols: "TLSv1.2 TLSv1.3")
      <<~CONF
        server {
          listen 127.0.0.1:#{port} ssl;
          server_name #{names};
          ssl_certificate #{cert};
          ssl_certificate_key #{key};
          ssl_protocols #{protocols};
          #{extra}
          location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-SNI $ssl_server_name;
            proxy_read_timeout 120s;
            proxy_send_timeout 120s;
          }
        }
      CONF
    end

    def config(backend_port)
      good = @pki.server_cert("localhost", dns: %w[localhost app.test])
      expired = @pki.server_cert("expired", dns: %w[expired.test],
                                            not_before: Time.now - (10 * 86_400), not_after: Time.now - 86_400)
      wrong = @pki.server_cert("other", dns: %w[other.test])
      mtls = @pki.server_cert("mtls", dns: %w[mtls.test])
      public = @pki.server_cert("public", dns: %w[localhost], issuer: :other)
      %w[client_body proxy fastcgi uwsgi scgi].each { |t| FileUtils.mkdir_p(File.join(@dir, t)) }
      <<~CONF
        daemon off;
        master_process off;
        worker_processes 1;
        pid #{@dir}/nginx.pid;
        error_log #{@dir}/error.log info;
        worker_rlimit_nofile #{@connections + 1024};
        events { worker_connections #{@connections}; }
        http {
          access_log off;
          client_body_temp_path #{@dir}/client_body;
          proxy_temp_path #{@dir}/proxy;
          fastcgi_temp_path #{@dir}/fastcgi;
          uwsgi_temp_path #{@dir}/uwsgi;
          scgi_temp_path #{@dir}/scgi;
          map $http_upgrade $connection_upgrade { default upgrade; '' close; }
          upstream backend { server 127.0.0.1:#{backend_port}; }
          server {
            listen 127.0.0.1:#{@port} ssl default_server;
            ssl_reject_handshake on;
            ssl_protocols TLSv1.2 TLSv1.3;
          }
          #{site('localhost app.test', *good)}
          #{site('expired.test', *expired)}
          #{site('wrongname.test', *wrong)}
          #{site('mtls.test', *mtls, "ssl_client_certificate #{@pki.ca_file}; ssl_verify_client on;")}
          #{site('localhost', *public, port: @public_port)}
          #{site('localhost', *good, port: @tls12_port, protocols: 'TLSv1.2')}
        }
      CONF
    end
  end
end
