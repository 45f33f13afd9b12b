# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"

RSpec.describe "the reactor, threads, lifetimes and fork" do
  let(:server) { Support::TestServer.instance }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  it "runs 200 TLS clients at once in one process" do
    nginx = Support::Nginx.instance
    done = []
    opened = 0
    clients = Array.new(200) do |i|
      WebSocket::Native::Client.new(nginx.url, tls: { ca_file: Support::PKI.instance.ca_file }) do |ws|
        ws.on(:open) { opened += 1; ws.send("client #{i}") }
        ws.on(:message) { |e| ws.close(1000, e.data) }
        ws.on(:close) do |e|
          done << [i, e.code, e.reason, e.was_clean]
          WebSocket::Native.stop if done.size == 200
        end
      end
    end
    Timeout.timeout(60) { WebSocket::Native.run }
    expect(opened).to eq(200)
    expect(done.sort).to eq((0...200).map { |i| [i, 1000, "client #{i}", true] })
    expect(clients.map(&:ready_state).uniq).to eq([WebSocket::Native::Client::CLOSED])
  end

  it "loses nothing when 8 Ruby threads send at once" do
    received = []
    ws = WebSocket::Native::Client.new(server.url)
    ws.on(:message) do |e|
      received << e.data
      ws.close if received.size == 8 * 500
    end
    ws.on(:close) { WebSocket::Native.stop }
    threads = Array.new(8) { |t| Thread.new { 500.times { |n| raise "refused" unless ws.send("t#{t}-#{n}") } } }
    threads.each(&:join)
    Timeout.timeout(30) { WebSocket::Native.run }
    expect(received.size).to eq(4000)
    8.times do |t|
      expect(received.select { |m| m.start_with?("t#{t}-") }).to eq((0...500).map { |n| "t#{t}-#{n}" })
    end
  end

  it "raises Interrupt promptly when Ctrl-C (SIGINT) arrives during run" do
    script = <<~RUBY
      require "websocket/native"
      ws = WebSocket::Native::Client.new("#{server.url('/deaf')}")
      ws.on(:open) { puts "open"; $stdout.flush }
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      begin
        WebSocket::Native.run
      rescue Interrupt
        puts "Interrupt after %.1f s" % (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
      end
    RUBY
    out, = Support.capture2e("timeout", "-s", "INT", "2", RbConfig.ruby, "-I", lib, "-e", script)
    expect(out).to match(/\Aopen\nInterrupt after \d+\.\d s\n\z/)
    expect(out[/after (\d+\.\d)/, 1].to_f).to be < 10
  end

  it "lets Timeout interrupt a waiting run" do
    WebSocket::Native::Client.new(server.url("/deaf"))
    expect { Timeout.timeout(0.3) { WebSocket::Native.run } }.to raise_error(Timeout::Error)
    expect(WebSocket::Native.running?).to be(false)
  end

  it "never misses an event for handlers attached on the lines after new (background reactor)" do
    keeper = WebSocket::Native::Client.new(server.url("/deaf")) # keeps the background reactor busy
    results = Queue.new
    200.times do
      log = []
      ws = WebSocket::Native::Client.new(server.url("/hello"))
      ws.on(:open) { log << :open }
      ws.on(:message) { |e| log << e.data; ws.close }
      ws.on(:close) { |e| log << e.code; results << log }
    end
    logs = Array.new(200) { Timeout.timeout(10) { results.pop } }
    expect(logs.uniq).to eq([[:open, "hello", 1000]])
    keeper.close
  end

  it "runs callbacks one at a time on one background thread when nobody calls run" do
    threads = Queue.new
    events = Queue.new
    3.times do
      ws = WebSocket::Native::Client.new(server.url("/hello"))
      ws.on(:message) { threads << Thread.current; sleep 0.05; ws.close }
      ws.on(:close) { events << :closed }
    end
    3.times { Timeout.timeout(10) { events.pop } }
    seen = Array.new(3) { threads.pop }
    expect(seen.uniq.size).to eq(1)
    expect(seen.first).not_to eq(Thread.current)
    expect(seen.first.name).to eq("websocket-native reactor")
  end

  it "keeps a client alive while open when user code drops every reference" do
    got = Queue.new
    make = lambda do
      ws = WebSocket::Native::Client.new(server.url)
      ws.on(:open) { GC.start; ws.send("still here") }
      ws.on(:message) { |e| GC.start; GC.compact if GC.respond_to?(:compact); got << e.data; ws.close }
      ws.on(:close) { |e| got << e.code }
      nil
    end
    make.call
    GC.start
    expect(Timeout.timeout(10) { [got.pop, got.pop] }).to eq(["still here", 1000])
  end

  it "reports close codes and reasons both ways" do
    _, log = record(server.url) { |ws, event| ws.close(4000, "done here") if event == [:open] }
    expect(log.last).to eq([:close, 4000, "done here", true])
    _, log = record(server.url("/close?code=4001&reason=bye"))
    expect(log).to eq([[:open], [:close, 4001, "bye", true]])
  end

  it "raises a callback's exception out of run, and keeps the other events queued" do
    seen = []
    start = lambda do
      ws = WebSocket::Native::Client.new(server.url("/send?count=3"))
      ws.on(:message) do |e|
        seen << e.data
        raise "boom on #{e.data}" if e.data == "message 0"
        ws.close if seen.size == 3
      end
      ws.on(:close) { WebSocket::Native.stop }
    end
    expect { Timeout.timeout(10) { WebSocket::Native.run(&start) } }.to raise_error(RuntimeError, "boom on message 0")
    Timeout.timeout(10) { WebSocket::Native.run }
    expect(seen).to eq(["message 0", "message 1", "message 2"])
  end

  it "gives a forked child its own runtime; inherited connections close there, untouched in the parent" do
    reader, writer = IO.pipe
    parent_log = []
    ws = WebSocket::Native::Client.new(server.url)
    ws.on(:message) { |e| parent_log << e.data; ws.close if e.data == "after fork" }
    ws.on(:close) { WebSocket::Native.stop }
    opened = Queue.new
    ws.on(:open) { opened << true }
    Timeout.timeout(10) { opened.pop }
    pid = fork do
      reader.close
      lines = []
      ws.off(:close)
      ws.on(:close) { |e| lines << "inherited #{e.code} #{e.reason}" }
      fresh = WebSocket::Native::Client.new(server.url)
      fresh.on(:open) { fresh.send("child") }
      fresh.on(:message) { |e| lines << "child got #{e.data}"; fresh.close }
      fresh.on(:close) { WebSocket::Native.stop }
      Timeout.timeout(10) { WebSocket::Native.run }
      writer.puts(lines)
      writer.close
      exit!(0)
    end
    writer.close
    expect(Support.wait_child(pid)).to be_success
    child = reader.read.split("\n")
    expect(child).to contain_exactly("inherited 1006 connection belongs to the parent process", "child got child")
    ws.send("after fork")
    Timeout.timeout(10) { WebSocket::Native.run }
    expect(parent_log).to eq(["after fork"])
  end
end

RSpec.describe "the reactor under stress from user code" do
  let(:server) { Support::TestServer.instance }
  let(:lib) { File.expand_path("../../lib", __dir__) }

  def ruby_script(script)
    out, status = Support.capture2e(RbConfig.ruby, "-I", lib, "-e", script)
    [out, status]
  end

  it "stops from a signal trap (WebSocket::Native.stop and the stand-in's EM.stop)" do
    out, = ruby_script(<<~RUBY)
      require "websocket/native/eventmachine"
      trap("TERM") { WebSocket::Native.stop }
      Thread.new { sleep 0.3; Process.kill("TERM", Process.pid) }
      WebSocket::Native.run { WebSocket::Native::Client.new("#{server.url('/deaf')}") }
      puts "native run returned"
      trap("TERM") { EM.stop }
      Thread.new { sleep 0.3; Process.kill("TERM", Process.pid) }
      EM.run { EM.add_periodic_timer(1) {} }
      puts "EM.run returned"
      # close, on and timers from a trap too (Ruby allows no Mutex there)
      ws = WebSocket::Native::Client.new("#{server.url('/echo')}")
      ws.on(:open) { Process.kill("TERM", Process.pid) }
      trap("TERM") do
        ws.on(:close) { |e| puts "closed " + e.code.to_s }
        puts "close from trap: " + ws.close(4000, "term").to_s
        EM.add_timer(0.3) { puts "timer from trap"; EM.stop }
      end
      EM.run
    RUBY
    expect(out).to eq("native run returned\nEM.run returned\nclose from trap: true\nclosed 4000\ntimer from trap\n")
  end

  it "keeps the background reactor alive when an error handler itself raises" do
    reactor = WebSocket::Native::Reactor.instance
    reactor.error_handler = ->(e) { raise "handler failed: #{e.message}" }
    got = Queue.new
    a = nil
    expect do
      a = WebSocket::Native::Client.new(server.url) { |c| c.on(:open) { raise "boom" } }
      sleep 0.5
    end.to output(/handler failed: boom/).to_stderr
    b = WebSocket::Native::Client.new(server.url)
    b.on(:open) { got << :open }
    expect(Timeout.timeout(5) { got.pop }).to eq(:open)
    a.close
    b.close
  ensure
    reactor.error_handler = nil
  end

  it "exits the process when a background callback calls exit" do
    out, status = ruby_script(<<~RUBY)
      require "websocket/native"
      ws = WebSocket::Native::Client.new("#{server.url('/hello')}")
      ws.on(:message) { exit 3 }
      sleep 10
      puts "still here"
    RUBY
    expect([out, status.exitstatus]).to eq(["", 3])
  end

  it "after a callback raised out of run, dispatches nothing until the next run, and stop takes effect at once" do
    out, = ruby_script(<<~RUBY)
      require "websocket/native"
      seen = []
      begin
      WebSocket::Native.run do
        ws = WebSocket::Native::Client.new("#{server.url('/send?count=50')}")
        ws.on(:message) do |e|
          seen << [e.data, Thread.current == Thread.main]
          raise "first" if seen.size == 1
          WebSocket::Native.stop if seen.size == 5
        end
        sleep 0.3 # let all 50 arrive, so they are drained as one batch
      end
      rescue RuntimeError
      end
      sleep 0.5
      puts "after raise: " + seen.size.to_s
      WebSocket::Native.run
      puts "after stop: " + seen.size.to_s + " on main: " + seen.all?(&:last).to_s
    RUBY
    expect(out).to eq("after raise: 1\nafter stop: 5 on main: true\n")
  end
end
