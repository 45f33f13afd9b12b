# frozen_string_literal: true

require "spec_helper"
require "tmpdir"

# The path a site box with a toolchain takes: gem build, gem install (compiling with cargo through
# extconf.rb), then require from the installed gem and connect. Takes minutes: it compiles cold.
RSpec.describe "gem build and gem install" do
  sandbox = Support::GemSandbox

  it "installs a small gem that loads and connects" do
    Dir.mktmpdir("websocket-native-gem") do |dir|
      gem_file = File.join(dir, "websocket-native.gem")
      out, status = sandbox.run({}, sandbox::GEM, "build", "native.gemspec", "-o", gem_file, timeout: 120)
      expect(status).to be_success, out
      gem_home = File.join(dir, "gems")
      out, status = sandbox.install(gem_file, gem_home)
      expect(status).to be_success, out

      installed = Dir[File.join(gem_home, "gems", "websocket-native-*")].first
      expect(Dir[File.join(installed, "**", "target")]).to be_empty
      size = Dir[File.join(installed, "**", "*")].select { |f| File.file?(f) }.sum { |f| File.size(f) }
      expect(size).to be < 5 * 1024 * 1024

      script = <<~RUBY
        require "websocket/native"
        ws = WebSocket::Native::Client.new("#{Support::TestServer.instance.url('/hello')}")
        ws.on(:message) { |e| puts "got " + e.data; ws.close }
        ws.on(:close) { |e| puts "close " + e.code.to_s; WebSocket::Native.stop }
        WebSocket::Native.run
        puts $LOADED_FEATURES.grep(/websocket_native/).first
      RUBY
      out, status = sandbox.run(sandbox.gem_env(gem_home), RbConfig.ruby, "-e", script, timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(out.lines.map(&:chomp))
        .to eq(["got hello", "close 1000", File.join(installed, "lib/websocket/websocket_native.so")])

      # The operator tools work from the installed gem (RubyGems' own wrapper in bin/).
      exe = File.join(gem_home, "bin", "websocket-native")
      out, status = sandbox.run(sandbox.gem_env(gem_home), RbConfig.ruby, exe, "version", timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(out).to include("websocket-native #{WebSocket::Native::VERSION}", "rustls 0.23.", "tungstenite 0.30.")
      out, status = sandbox.run(sandbox.gem_env(gem_home), RbConfig.ruby, exe, "doctor",
                                Support::TestServer.instance.url("/echo"), timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(out).to include("Verdict: every step works (exit 0).")
    end
  end
end
