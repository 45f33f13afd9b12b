# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "tempfile"

# DNS failures are produced inside a private network namespace (unshare --net), so no query
# ever leaves this machine: there is no route to any resolver there.
RSpec.describe "DNS failures" do
  lib = File.expand_path("../../lib", __dir__)
  script = <<~RUBY
    require "websocket/native"
    ws = WebSocket::Native::Client.new("ws://site-box-dns-test.invalid/socket")
    ws.on(:error) { |e| puts "#{'#'}{e.error.class}: #{'#'}{e.message}" }
    ws.on(:close) { |e| puts "close #{'#'}{e.code}"; WebSocket::Native.stop }
    WebSocket::Native.run
  RUBY

  def isolated(command)
    out, status = Support.capture2e("unshare", "--net", "--mount", "sh", "-c", command)
    skip "needs unshare (root) for an isolated network namespace: #{out}" if !status&.success? && out.include?("unshare")
    out
  end

  it "says the DNS server could not be reached" do
    out = isolated("#{RbConfig.ruby} -I#{lib} -e '#{script}'")
    expect(out).to include('WebSocket::Native::ConnectError: DNS lookup of "site-box-dns-test.invalid" failed: ' \
                           "the DNS server could not be reached")
    expect(out).to include("/etc/resolv.conf")
    expect(out).to include("close 1006")
  end

  it "says there is no such host" do
    nss = Tempfile.new("nsswitch")
    nss.write("hosts: files\n")
    nss.close
    out = isolated("mount --bind #{nss.path} /etc/nsswitch.conf && #{RbConfig.ruby} -I#{lib} -e '#{script}'")
    expect(out).to include('DNS lookup of "site-box-dns-test.invalid" failed: no such host')
  ensure
    nss&.unlink
  end

  # A resolver that takes queries and never answers (a UDP socket on 127.0.0.1:53 inside the
  # namespace): each lookup holds a thread for the resolver timeout, after the dial gave up.
  it "caps the lookups waiting for a dead resolver and says so" do
    resolv = Tempfile.new("resolv")
    resolv.write("nameserver 127.0.0.1\noptions timeout:4 attempts:1\n")
    resolv.close
    script = Tempfile.new(["dead-resolver", ".rb"])
    script.write(<<~RUBY)
      require "socket"
      require "websocket/native"
      dead = UDPSocket.new
      dead.bind("127.0.0.1", 53)
      threads = -> { Dir["/proc/self/task/*"].size }
      base = threads.call
      most = base
      Thread.new { loop { most = [most, threads.call].max; sleep 0.005 } }
      closed = 0
      messages = []
      40.times do |i|
        ws = WebSocket::Native::Client.new("ws://dead-resolver-\#{i}.invalid/", nil, connect_timeout: 1)
        ws.on(:error) { |e| messages << e.message }
        ws.on(:close) { (closed += 1) == 40 && WebSocket::Native.stop }
      end
      WebSocket::Native.run
      puts "threads grew by \#{most - base}"
      puts messages.uniq.first(3)
    RUBY
    script.close
    out = isolated("ip link set lo up && mount --bind #{resolv.path} /etc/resolv.conf && " \
                   "timeout 60 #{RbConfig.ruby} -I#{lib} #{script.path}")
    grown = out[/threads grew by (\d+)/, 1]
    expect(grown).not_to be_nil, out
    # 16 lookup threads, 2 tokio workers, the reactor and the sampler, with a little slack.
    expect(grown.to_i).to be <= 16 + 8, out
    expect(out).to include("during the DNS lookup")
    expect(out).to include("16 DNS lookups already waiting for an answer, the most this process runs at once")
  ensure
    resolv&.unlink
    script&.unlink
  end
end
