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
end
