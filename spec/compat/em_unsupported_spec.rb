# frozen_string_literal: true

require "spec_helper"

# What needs EventMachine's own sockets or processes is refused by the stand-in with a
# NotImplementedError naming the call and the way out; a later require of the real EventMachine
# keeps the stand-in.
RSpec.describe "EventMachine stand-in: what needs the real EventMachine" do
  let(:port) { Support::TestServer.instance.port }

  def run_standin(code)
    Support::Compat.run(:none, %(require "websocket/native/eventmachine"\n#{code}), port: port)
  end

  calls = {
    "EM.connect" => 'EM.connect("127.0.0.1", 80, Module.new)',
    "EM.reconnect" => 'EM.reconnect("127.0.0.1", 80, nil)',
    "EM.bind_connect" => 'EM.bind_connect("127.0.0.1", 0, "127.0.0.1", 80)',
    "EM.connect_unix_domain" => 'EM.connect_unix_domain("/tmp/sock")',
    "EM.start_server" => 'EM.start_server("127.0.0.1", 8080, Module.new)',
    "EM.start_unix_domain_server" => 'EM.start_unix_domain_server("/tmp/sock")',
    "EM.attach_server" => "EM.attach_server($stdin, Module.new)",
    "EM.stop_server" => "EM.stop_server(1)",
    "EM.attach" => "EM.attach($stdin)",
    "EM.watch" => "EM.watch($stdin)",
    "EM.open_datagram_socket" => 'EM.open_datagram_socket("127.0.0.1", 0)',
    "EM.popen" => 'EM.popen("true")',
    "EM.system" => 'EM.system("true") { }',
    "EM.watch_file" => 'EM.watch_file("/tmp")',
    "EM.watch_process" => "EM.watch_process(Process.pid)",
    "EM.open_keyboard" => "EM.open_keyboard(Module.new)",
    "EM.enable_proxy" => "EM.enable_proxy(nil, nil)",
    "EM.disable_proxy" => "EM.disable_proxy(nil)",
    "EM.fork_reactor" => "EM.fork_reactor { }",
    "Handler.new (an EM::Connection)" => "class Handler < EM::Connection; end\nHandler.new(1)"
  }

  it "raises NotImplementedError naming each call and saying to require the real EventMachine first" do
    code = calls.map do |_name, call|
      <<~RUBY
        begin
          #{call}
          log :returned
        rescue NotImplementedError => e
          log e.message
        end
      RUBY
    end.join
    out = run_standin("EM.run do\n#{code}EM.stop\nend")
    expect(out).to eq(calls.keys.map do |name|
      "\"#{name} needs the real EventMachine's own sockets or processes, which the websocket-native " \
        "EventMachine stand-in does not have: require \\\"eventmachine\\\" before " \
        "\\\"websocket/native/faye\\\" (the drop-in then runs on the real reactor)\""
    end + [":exit"])
  end

  it "raises outside EM.run as well, and the stand-in keeps running after a rescued refusal" do
    out = run_standin(<<~'RUBY')
      begin
        EM.start_server("127.0.0.1", 0)
      rescue NotImplementedError => e
        log e.message[/\AEM.start_server needs the real EventMachine/] ? :refused : e.message
      end
      EM.run do
        begin
          EM.connect("127.0.0.1", 1)
        rescue NotImplementedError
          EM.add_timer(0.05) { log :still_running; EM.stop }
        end
      end
    RUBY
    expect(out).to eq([":refused", ":still_running", ":exit"])
  end

  it "keeps the stand-in when eventmachine or its parts are required later" do
    out = run_standin(<<~'RUBY')
      log require("eventmachine"), require("em/channel"), require("em/deferrable"), require("em/iterator"),
          require("em/queue"), require("em/tick_loop"), require("em/timers"), require("em/callback")
      log defined?(WebSocket::Native::EventMachineShim).to_s, EM.respond_to?(:run_machine)
    RUBY
    expect(out).to eq(["false false false false false false false false", '"constant" false', ":exit"])
  end
end
