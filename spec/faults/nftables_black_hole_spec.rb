# frozen_string_literal: true

require "spec_helper"
require "rbconfig"
require "tempfile"

# A true black hole: nftables drops every packet of the session inside a private network
# namespace (unshare --net, only loopback in it), so the kernel keeps accepting the client's
# writes while nothing gets through, in either direction.
RSpec.describe "Faults: a 10 s nftables black hole (private network namespace)" do
  script = <<~'RUBY'
    require "websocket/native"
    require "socket"
    require "timeout"
    binary, port = ARGV[0], Integer(ARGV[1])
    server = Process.spawn(binary, port.to_s, out: File::NULL, err: File::NULL)
    at_exit { Process.kill("KILL", server) }
    begin
      TCPSocket.new("127.0.0.1", port).close
    rescue SystemCallError
      sleep 0.05
      retry
    end
    t0 = WebSocket::Native.now
    log = ->(*items) { puts [format("%.2f", WebSocket::Native.now - t0), *items].join(" "); $stdout.flush }
    events = Queue.new
    ws = WebSocket::Native::Client.new("ws://127.0.0.1:#{port}/echo", nil, ping: 2, connect_timeout: 3,
                                       reconnect: { initial: 0.5, max: 2 }) do |w|
      w.on(:open) { log.("open"); events << :open }
      w.on(:message) { |e| events << e.data }
      w.on(:close) { |e| log.("close", e.code, w.ready_state, e.reason[0, 40]); events << :close }
      w.on(:reconnect) { |e| log.("reconnect", e.attempt) }
    end
    wait = ->(want) { Timeout.timeout(20) { loop { break if events.pop == want } } }
    wait.(:open)
    ws.send("before")
    wait.("before")
    log.("heard")
    system("nft add table inet hole && nft add chain inet hole c '{ type filter hook input priority 0; }' && " \
           "nft add rule inet hole c tcp dport #{port} drop && nft add rule inet hole c tcp sport #{port} drop", exception: true)
    log.("hole")
    wait.(:close)
    sleep 0.1 until WebSocket::Native.now - t0 >= 10.5
    system("nft delete table inet hole", exception: true)
    log.("hole closed")
    wait.(:open)
    10.times { |i| ws.send("after #{i}") }
    wait.("after 9")
    log.("echoed")
    ws.close
    wait.(:close)
  RUBY

  it "reports the dead link within ping + pong_timeout and reconnects once the hole closes" do
    Support::TestServer.build
    file = Tempfile.new(["black_hole", ".rb"])
    file.write(script)
    file.close
    lib = File.expand_path("../../lib", __dir__)
    command = "ip link set lo up && exec #{RbConfig.ruby} -I#{lib} #{file.path} " \
              "#{Support::TestServer::BINARY} #{Support::ServerProcess.free_port}"
    reader, writer = IO.pipe
    pid = Process.spawn("unshare", "--net", "sh", "-c", command, out: writer, err: writer, pgroup: true)
    writer.close
    out = +""
    begin
      Timeout.timeout(45) { out << reader.read }
    ensure
      Process.kill("KILL", -pid) rescue nil # rubocop:disable Style/RescueModifier
      Process.wait(pid)
    end
    skip "needs unshare (root) and nft for a private black hole: #{out}" if out.match?(/unshare: |nft: not found|Operation not permitted/)

    lines = out.lines.map { |l| l.chomp.split(" ", 2) }.map { |t, rest| [t.to_f, rest] }
    at = ->(prefix) { (lines.find { |_, what| what.start_with?(prefix) } || raise("no #{prefix.inspect} in:\n#{out}"))[0] }
    expect(lines.map(&:last).first(4)).to eq(["open", "heard", "hole", "close 1006 0 no reply to ping for 2 s from 127.0.0.1:"])
    expect(at["close"] - at["heard"]).to be <= 2 + 2 + 1.5 # ping + pong_timeout, with slack
    expect(at["hole closed"]).to be >= 10.5
    reopened = lines.find { |t, what| what == "open" && t > at["hole"] }
    expect(reopened).not_to be_nil, out
    expect(reopened[0]).to be >= at["hole closed"]
    expect(lines.map(&:last)).to include("echoed", "reconnect 1")
    expect(lines.last.last).to start_with("close 1000 3")
  ensure
    file&.unlink
  end
end
