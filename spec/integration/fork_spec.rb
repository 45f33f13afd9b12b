# frozen_string_literal: true

require "spec_helper"

RSpec.describe "fork" do
  # Inodes of the client ends of TCP connections to `port`, from /proc/net/tcp.
  def client_inodes(port)
    File.readlines("/proc/net/tcp").drop(1).filter_map do |line|
      fields = line.split
      fields[9] if fields[2].end_with?(format(":%04X", port))
    end
  end

  def socket_inodes(pid)
    Dir["/proc/#{pid}/fd/*"].filter_map do |fd|
      File.readlink(fd)[/\Asocket:\[(\d+)\]\z/, 1]
    rescue SystemCallError
      nil
    end
  end

  def fork_sleeper
    reader, writer = IO.pipe
    child = fork do
      reader.close
      writer.puts("ready") # the fork hook has run by now
      writer.close
      sleep 30
      exit!(0)
    end
    writer.close
    expect(Timeout.timeout(10) { reader.gets }).to eq("ready\n")
    child
  end

  it "also closes a socket that is still dialing (here waiting for the upgrade reply)" do
    listener = TCPServer.new("127.0.0.1", 0)
    port = listener.addr[1]
    accepted = Thread.new { listener.accept } # takes the connection and never answers
    ws = WebSocket::Native::Client.new("ws://127.0.0.1:#{port}/", connect_timeout: 30)
    peer = Timeout.timeout(10) { accepted.value }
    inodes = client_inodes(port)
    expect(inodes.size).to eq(1)
    expect(socket_inodes(Process.pid)).to include(*inodes)

    child = fork_sleeper
    expect(socket_inodes(child) & inodes).to eq([])
    ws.close
    # The parent's socket goes away with the dial, so the server sees the FIN while the child lives.
    expect(Timeout.timeout(10) { peer.read }).to start_with("GET / HTTP/1.1\r\n")
    expect(Process.waitpid(child, Process::WNOHANG)).to be_nil
  ensure
    if child
      Process.kill("KILL", child)
      Process.wait(child)
    end
    peer&.close
    listener&.close
  end

  it "closes the parent's connection sockets in the child at fork time; the parent's keep working" do
    server = Support::FinWatchServer.new
    echoed = Queue.new
    closed = Queue.new
    clients = Array.new(3) do
      WebSocket::Native::Client.new(server.url) do |ws|
        ws.on(:message) { |e| echoed << e.data }
        ws.on(:close) { |e| closed << e.code }
      end
    end
    Timeout.timeout(10) { Thread.pass until clients.all? { |c| c.ready_state == WebSocket::Native::Client::OPEN } }
    inodes = client_inodes(server.port)
    expect(inodes.size).to eq(3)
    expect(socket_inodes(Process.pid)).to include(*inodes)

    child = fork_sleeper
    expect(socket_inodes(child) & inodes).to eq([])

    clients.each_with_index { |ws, i| ws.send("after fork #{i}") }
    expect(Array.new(3) { Timeout.timeout(10) { echoed.pop } }.sort).to eq(["after fork 0", "after fork 1", "after fork 2"])
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    clients.each(&:close)
    hangups = Array.new(3) { server.next_hangup(5) }
    expect(hangups).to all(be_a(Float)) # the server saw each FIN while the child still sleeps
    expect(hangups.max - started).to be < 3
    expect(Process.waitpid(child, Process::WNOHANG)).to be_nil
    expect(Array.new(3) { Timeout.timeout(10) { closed.pop } }).to eq([1000, 1000, 1000])
  ensure
    if child
      Process.kill("KILL", child)
      Process.wait(child)
    end
    server&.stop
  end
end
