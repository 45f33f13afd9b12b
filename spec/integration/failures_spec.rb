# frozen_string_literal: true

require "spec_helper"

RSpec.describe "failures that explain themselves" do
  let(:server) { Support::TestServer.instance }

  # The first event must be an :error naming the step; the close after it carries the same words.
  def failure_of(url, klass, **options)
    _, log = record(url, **options)
    error = log.first
    expect(error[0]).to eq(:error), "expected an error first, got #{log.inspect}"
    expect(error[2]).to eq(klass)
    expect(log.last[0..1]).to eq([:close, 1006])
    expect(log.last[2]).to start_with(error[1])
    expect(log.last[3]).to be(false)
    error[1]
  end

  it "connection refused" do
    port = Support::ServerProcess.free_port
    message = failure_of("ws://127.0.0.1:#{port}/", WebSocket::Native::ConnectError)
    expect(message).to eq("TCP connection failed: 127.0.0.1:#{port}: connection refused " \
                          "(nothing is listening on that port, or a firewall rejected it)")
  end

  it "TCP connect timeout (a listener whose accept queue is full drops our SYN)" do
    listener = Socket.new(:INET, :STREAM)
    listener.bind(Addrinfo.tcp("127.0.0.1", 0))
    listener.listen(0)
    port = listener.local_address.ip_port
    fillers = Array.new(3) do
      s = Socket.new(:INET, :STREAM)
      s.connect_nonblock(Addrinfo.tcp("127.0.0.1", port), exception: false)
      s
    end
    sleep 0.2
    message = failure_of("ws://127.0.0.1:#{port}/", WebSocket::Native::ConnectError, connect_timeout: 1)
    expect(message).to start_with("Opening 127.0.0.1:#{port} timed out after 1 s during the TCP connect")
  ensure
    fillers&.each(&:close)
    listener&.close
  end

  it "a server that accepts but never answers the upgrade" do
    message = failure_of(server.url("/silent"), WebSocket::Native::HandshakeError, connect_timeout: 0.5)
    expect(message).to start_with("Opening 127.0.0.1:#{server.port} timed out after 0.500 s during the HTTP upgrade")
    expect(message).to include("connect_timeout")
  end

  it "a reply that trickles in byte by byte still meets the one deadline" do
    message = failure_of(server.url("/trickle?ms=50"), WebSocket::Native::HandshakeError, connect_timeout: 1)
    expect(message).to include("timed out after 1 s during the HTTP upgrade")
  end

  it "an oversized upgrade reply head" do
    message = failure_of(server.url("/big-head?lines=100"), WebSocket::Native::HandshakeError)
    expect(message).to include("sent a reply head larger than 65536 bytes")
  end

  it "HTTP status other than 101, with the status line" do
    message = failure_of(server.url("/status?code=404"), WebSocket::Native::HandshakeError)
    expect(message).to include('the server answered "HTTP/1.1 404 Test Status" saying "no websocket here" ' \
                               'instead of "101 Switching Protocols"')
    expect(message).to include("check the URL")
  end

  it "a redirect names where it points" do
    message = failure_of(server.url("/status?code=302&location=wss://elsewhere.test/"), WebSocket::Native::HandshakeError)
    expect(message).to include("a redirect to wss://elsewhere.test/")
  end

  it "a wrong Sec-WebSocket-Accept" do
    message = failure_of(server.url("/bad-accept"), WebSocket::Native::HandshakeError)
    expect(message).to include("Sec-WebSocket-Accept")
  end

  it "a server that closes without answering" do
    message = failure_of(server.url("/hangup"), WebSocket::Native::HandshakeError)
    expect(message).to include("closed the connection without answering")
  end

  it "a server that drops the connection without a close frame after open" do
    _, log = record(server.url("/drop?ms=100"))
    expect(log[0]).to eq([:open])
    expect(log[1][1]).to eq("the server at 127.0.0.1:#{server.port} closed the connection without a WebSocket close frame")
    expect(log[1][2]).to eq(WebSocket::Native::ConnectionError)
    expect(log[2]).to eq([:close, 1006, log[1][1], false])
  end

  {
    "/invalid-utf8" => [1007, "sent a text message that is not valid UTF-8"],
    "/masked" => [1002, "broke the WebSocket protocol: it sent a masked frame (servers must not mask)"],
    "/reserved-opcode" => [1002, "broke the WebSocket protocol: it used the reserved opcode 3"]
  }.each do |path, (code, words)|
    it "#{path}: closes with #{code} and says what the server did" do
      _, log = record(server.url(path))
      expect(log[0]).to eq([:open])
      expect(log[1][1]).to include(words)
      expect(log[1][2]).to eq(WebSocket::Native::ProtocolError)
      expect(log[2]).to eq([:close, code, log[1][1], false])
    end
  end

  it "a message over max_length closes with 1009" do
    _, log = record(server.url("/big?size=100"), max_length: 10)
    expect(log[1][1]).to include("sent a message of 100 bytes or more, over max_length (10 bytes)")
    expect(log[2][0..1]).to eq([:close, 1009])
  end

  it "a close handshake the server never answers ends after close_timeout as 1006" do
    _, log = record(server.url("/no-close-reply"), close_timeout: 0.5) { |ws, event| ws.close if event == [:open] }
    expect(log[1][1]).to eq("127.0.0.1:#{server.port} did not answer the close handshake within 0.500 s " \
                            "(close_timeout); the connection was dropped")
    expect(log[2][0..1]).to eq([:close, 1006])
  end

  it "close before open ends at once and reports the messages that were never sent" do
    log = []
    ws = WebSocket::Native::Client.new(server.url("/silent"))
    ws.on(:error) { |e| log << [:error, e.message] }
    ws.on(:close) do |e|
      log << [:close, e.code, e.reason, e.was_clean]
      WebSocket::Native.stop
    end
    ws.send("one")
    ws.send("two")
    expect(ws.close).to be(true)
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSING)
    expect(ws.send("three")).to be(false)
    Timeout.timeout(5) { WebSocket::Native.run }
    expect(log).to eq([[:close, 1006, "closed by the client before the connection to 127.0.0.1:#{server.port} was open; " \
                                      "2 messages (6 bytes) given to send were not delivered", false]])
    expect(ws.ready_state).to eq(WebSocket::Native::Client::CLOSED)
  end
end
