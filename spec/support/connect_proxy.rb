# frozen_string_literal: true

require "socket"

module Support
  # A small HTTP CONNECT proxy on 127.0.0.1 for proxy specs. It tunnels only to 127.0.0.1, can
  # demand credentials, and remembers the request heads it saw.
  class ConnectProxy
    attr_reader :port, :requests

    # @param credentials [String, nil] "user:password" required in Proxy-Authorization
    def initialize(credentials: nil)
      @credentials = credentials
      @server = TCPServer.new("127.0.0.1", 0)
      @port = @server.addr[1]
      @requests = Queue.new
      @threads = []
      @acceptor = Thread.new { loop { serve(@server.accept) } }
    end

    def url(userinfo = nil)
      "http://#{userinfo ? "#{userinfo}@" : ''}127.0.0.1:#{@port}"
    end

    def stop
      @acceptor.kill
      @threads.each(&:kill)
      @server.close
    end

    private

    def serve(client)
      @threads << Thread.new do
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
      rescue IOError, SystemCallError
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
        rescue IOError, SystemCallError
          to.close_write rescue nil # rubocop:disable Style/RescueModifier
        end
      end
      pipes.each(&:join)
    ensure
      upstream.close
    end
  end
end
