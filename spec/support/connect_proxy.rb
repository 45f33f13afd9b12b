# frozen_string_literal: true

require "openssl"
require "socket"
require_relative "pki"

module Support
  # A small HTTP CONNECT proxy on 127.0.0.1 for proxy specs. It tunnels only to 127.0.0.1, can
  # demand credentials, and remembers the request heads it saw.
  class ConnectProxy
    attr_reader :port, :requests

    # @param credentials [String, nil] "user:password" required in Proxy-Authorization
    # @param tls [Boolean] an https:// proxy, with a certificate for localhost and 127.0.0.1 from the test CA
    def initialize(credentials: nil, tls: false)
      @credentials = credentials
      @tls = tls && tls_context
      @server = TCPServer.new("127.0.0.1", 0)
      @port = @server.addr[1]
      @requests = Queue.new
      @threads = []
      @acceptor = Thread.new { loop { serve(@server.accept) } }
    end

    def url(userinfo = nil)
      "#{@tls ? 'https' : 'http'}://#{userinfo ? "#{userinfo}@" : ''}127.0.0.1:#{@port}"
    end

    def stop
      @acceptor.kill
      @threads.each(&:kill)
      @server.close
    end

    private

    def tls_context
      cert, key = PKI.instance.server_cert("proxy", dns: %w[localhost 127.0.0.1])
      context = OpenSSL::SSL::SSLContext.new
      context.cert = OpenSSL::X509::Certificate.new(File.read(cert))
      context.key = OpenSSL::PKey.read(File.read(key))
      context
    end

    def serve(client)
      @threads << Thread.new do
        client = OpenSSL::SSL::SSLSocket.new(client, @tls).tap { |s| s.sync_close = true }.tap(&:accept) if @tls
        head = +""
        head << client.readpartial(4096) until head.include?("\r\n\r\n")
        @requests << head
        target = head[/\ACONNECT ([^ ]+) HTTP/, 1]
        host, port = target.to_s.split(":")
        if @credentials && !head.include?("Proxy-Authorization: Basic #{[@credentials].pack('m0')}")
          client.write("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        elsif host != "127.0.0.1" && host != "localhost"
          client.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else
          tunnel(client, TCPSocket.new("127.0.0.1", Integer(port)))
        end
      rescue IOError, SystemCallError, OpenSSL::SSL::SSLError
        nil
      ensure
        client.close unless client.closed?
      end
    end

    def tunnel(client, upstream)
      client.write("HTTP/1.1 200 Connection established\r\n\r\n")
      pipes = [[client, upstream], [upstream, client]].map do |from, to|
        Thread.new do
          loop { to.write(from.readpartial(65_536)) }
        rescue IOError, SystemCallError, OpenSSL::SSL::SSLError
          to.close_write rescue nil # rubocop:disable Style/RescueModifier
        end
      end
      pipes.each(&:join)
    ensure
      upstream.close
    end
  end
end
