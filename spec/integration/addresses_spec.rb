# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "tempfile"

# A host name with a black-holed first address (as with a broken IPv6 route) must still connect
# through the next one well within connect_timeout. /etc/hosts is replaced only inside a private
# mount namespace (unshare --mount), so nothing outside the child process sees it.
RSpec.describe "several addresses for one host name" do
  let(:server) { Support::TestServer.instance }

  it "tries the next address while the first one hangs" do
    blackhole = Socket.new(:INET6, :STREAM)
    blackhole.bind(Addrinfo.tcp("::1", server.port))
    blackhole.listen(0)
    fillers = Array.new(3) do
      s = Socket.new(:INET6, :STREAM)
      s.connect_nonblock(Addrinfo.tcp("::1", server.port), exception: false)
      s
    end
    hosts = Tempfile.new("hosts")
    hosts.write("::1 twohomed.test\n127.0.0.1 twohomed.test\n")
    hosts.close
    script = <<~RUBY
      require "websocket/native"
      ws = WebSocket::Native::Client.new("ws://twohomed.test:#{server.port}/hello", nil, connect_timeout: 5)
      ws.on(:message) { |e| puts "got " + e.data; ws.close }
      ws.on(:error) { |e| puts e.message }
      ws.on(:close) { |e| puts "close " + e.code.to_s; WebSocket::Native.stop }
      WebSocket::Native.run
    RUBY
    lib = File.expand_path("../../lib", __dir__)
    out, status = Support.capture2e("unshare", "--mount", "sh", "-c",
                                     "mount --bind #{hosts.path} /etc/hosts && exec #{RbConfig.ruby} -I#{lib} -e '#{script}'")
    skip "needs unshare (root) for a private /etc/hosts: #{out}" if !status&.success? && out.include?("unshare")
    expect(out.lines.map(&:chomp)).to eq(["got hello", "close 1000"])
  ensure
    fillers&.each(&:close)
    blackhole&.close
    hosts&.unlink
  end
end
