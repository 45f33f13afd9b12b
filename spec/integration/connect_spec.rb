# frozen_string_literal: true

require "spec_helper"
require "pty"
require "io/console"

RSpec.describe "websocket-native connect" do
  include Support::CLI

  let(:server) { Support::TestServer.instance }
  let(:env) { { "https_proxy" => nil, "HTTPS_PROXY" => nil, "http_proxy" => nil } }

  # Runs connect in a pseudo-terminal, as a person would; yields a typist, returns the screen.
  def in_terminal(*args, limit: 20)
    screen = +""
    PTY.spawn(env, RbConfig.ruby, "-I", Support::CLI::LIB, Support::CLI::EXE, "connect", *args) do |r, w, pid|
      reader = Thread.new do
        loop { screen << r.readpartial(4096) }
      rescue EOFError, Errno::EIO
        nil
      end
      wait_for = lambda do |text|
        Timeout.timeout(limit) { sleep 0.05 until screen.include?(text) }
      end
      yield w, wait_for
      status = nil
      Timeout.timeout(limit) { _, status = Process.wait2(pid) }
      reader.join(2)
      return [screen, status.exitstatus]
    rescue Timeout::Error
      Process.kill("KILL", pid)
      raise "connect did not get there within #{limit} s; the screen says:\n#{screen}"
    end
  end

  it "sends typed lines, prints the echoes, and closes with 1000 on Ctrl-C" do
    screen, code = in_terminal(server.url("/echo")) do |keys, wait_for|
      wait_for.call("type lines to send")
      keys.write("hello there\n")
      wait_for.call("< hello there")
      keys.write("second\n")
      wait_for.call("< second")
      keys.write("\x03") # Ctrl-C, through the terminal's line discipline
      wait_for.call("closed:")
    end
    expect(screen).to include("connected to #{server.url('/echo')}", "< hello there", "< second")
    expect(screen).to include('closed: code 1000, reason ""')
    expect(code).to eq(0)
  end

  it "closes with 1000 at end of input (Ctrl-D)" do
    screen, code = in_terminal(server.url("/echo")) do |keys, wait_for|
      wait_for.call("type lines to send")
      keys.write("bye\n")
      wait_for.call("< bye")
      keys.write("\x04")
      wait_for.call("closed:")
    end
    expect(screen).to include('closed: code 1000, reason ""')
    expect(code).to eq(0)
  end

  it "sends binary with --binary and prints binary as length and hex; shows pings and pongs" do
    screen, = in_terminal(server.url("/echo"), "--binary", "--ping", "0.2", "--show-ping-pong") do |keys, wait_for|
      wait_for.call("type lines to send")
      keys.write("hello\n")
      wait_for.call("< binary 5 bytes: 68 65 6c 6c 6f")
      wait_for.call("< pong ping-1")
      keys.write("\x03")
      wait_for.call("closed:")
    end
    expect(screen).to match(/> ping ping-1.*< pong ping-1 \([\d.]+ ms\)/m)
  end

  it "reads piped input, and says why a connection failed with the step's exit code" do
    out, _, status = run_cli("connect", server.url("/echo"), stdin: "one\ntwo\n", env: env)
    expect(out.lines.map(&:chomp)).to include("< one", "< two", 'closed: code 1000, reason ""')
    expect(status.exitstatus).to eq(0)

    port = Support::ServerProcess.free_port
    out, err, status = run_cli("connect", "ws://127.0.0.1:#{port}/", env: env)
    expect(err).to include("! TCP connection failed: 127.0.0.1:#{port}: connection refused")
    expect(out).to include("closed: code 1006")
    expect(status.exitstatus).to eq(5)
  end

  it "prints usage for bad arguments and exits 2" do
    _, err, status = run_cli("connect", env: env)
    expect(status.exitstatus).to eq(2)
    expect(err).to include("Usage: websocket-native connect URL", "--show-ping-pong", "Exit status:")
    _, err, status = run_cli("connect", server.url, "--ping", "soon", env: env)
    expect(status.exitstatus).to eq(2)
    expect(err).to include("invalid argument: --ping soon")
  end
end

RSpec.describe "websocket-native version and help" do
  include Support::CLI

  it "names the gem, Ruby, the platform and the Rust libraries as locked in Cargo.lock" do
    out, _, status = run_cli("version")
    expect(status).to be_success
    lock = File.read(File.expand_path("../../Cargo.lock", __dir__))
    locked = ->(name) { lock[/name = "#{name}"\nversion = "([^"]+)"/, 1] }
    expect(out.lines.map(&:chomp)).to include(
      "websocket-native #{WebSocket::Native::VERSION}", "ruby #{RUBY_VERSION} (#{RUBY_PLATFORM})",
      "rustls #{locked['rustls']}", "tungstenite #{locked['tungstenite']}", "tokio #{locked['tokio']}"
    )
  end

  it "lists the commands, and refuses an unknown one with exit 2" do
    out, _, status = run_cli("--help")
    expect([status.exitstatus, out]).to match([0, include("doctor URL", "connect URL", "version")])
    _, err, status = run_cli("dance")
    expect([status.exitstatus, err]).to match([2, include('unknown command "dance"')])
  end
end
