# frozen_string_literal: true

require "spec_helper"
require "rubygems/package"
require "tmpdir"

# The path a site box without any toolchain takes: `gem install` of the precompiled platform gem,
# then require it (never the checkout) and connect through the SNI-gated TLS edge, directly and
# through the faye drop-in.
RSpec.describe "platform gem" do
  sandbox = Support::GemSandbox
  abi = RUBY_VERSION[/\A\d+\.\d+/]

  def build_platform_gem(sandbox)
    target = ENV.fetch("CARGO_TARGET_DIR", File.join(sandbox::ROOT, "target")) # warm: no cold release build
    env = sandbox.toolchain_env.merge("CARGO_TARGET_DIR" => target)
    # Rake's package task keeps its staging copy: one from an older file list fails the build.
    FileUtils.rm_rf(File.join(sandbox::ROOT, "pkg"))
    out, status = sandbox.run(env, RbConfig.ruby, "-S", "rake", "native", "gem", timeout: 1800)
    expect(status).to be_success, out
    name = "websocket-native-#{WebSocket::Native::VERSION}-#{Gem::Platform.local}.gem"
    File.join(sandbox::ROOT, "pkg", name)
  end

  it "installs without a toolchain in seconds, loads its own library and connects over wss" do
    gem_file = build_platform_gem(sandbox)
    spec = Gem::Package.new(gem_file).spec
    expect(spec.extensions).to be_empty
    expect(spec.required_ruby_version).to eq(Gem::Requirement.new(">= #{abi}", "< #{abi.succ}.dev"))
    expect(spec.files).to include("lib/websocket/native/#{abi}/websocket_native.so", "README.md", "LICENSE",
                                  "CHANGELOG.md", "lib/websocket/native/faye.rb", "exe/websocket-native")
    expect(spec.files.grep(%r{\A(ext|testserver|target|tmp)/|\.rs\z|\ACargo})).to be_empty

    Dir.mktmpdir("websocket-native-platform-gem") do |dir|
      gem_home = File.join(dir, "gems")
      bare = sandbox.bare_env(dir)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      out, status = sandbox.install(gem_file, gem_home, env: bare, timeout: 120)
      seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      expect(status).to be_success, out
      puts format("\n    platform gem: %.1f MB, gem install took %.1f s", File.size(gem_file) / 1e6, seconds)
      expect(Dir[File.join(gem_home, "extensions", "**", "*")]).to be_empty # nothing was compiled

      installed = File.join(gem_home, "gems", spec.full_name)
      library = File.join(installed, "lib/websocket/native", abi, "websocket_native.so")
      expect(File.binread(library)).not_to include(".symtab") # stripped: no symbol table section

      nginx = Support::Nginx.instance
      script = <<~RUBY
        require "websocket/native"
        url = ARGV.fetch(0)
        ws = WebSocket::Native::Client.new(url)
        ws.on(:message) { |e| puts "native got " + e.data; ws.close }
        ws.on(:error) { |e| puts "native error " + e.message }
        ws.on(:close) { |e| puts "native close " + e.code.to_s; WebSocket::Native.stop }
        WebSocket::Native.run
        require "websocket/native/faye"
        EM.run do
          faye = Faye::WebSocket::Client.new(url)
          faye.on(:message) { |e| puts "faye got " + e.data; faye.close }
          faye.on(:error) { |e| puts "faye error " + e.message }
          faye.on(:close) { |e| puts "faye close " + e.code.to_s; EM.stop }
        end
        puts $LOADED_FEATURES.grep(/websocket_native\\./)
        puts $LOAD_PATH.grep(%r{\\A#{sandbox::ROOT}}).inspect
      RUBY
      env = bare.merge(sandbox.gem_env(gem_home)).merge("SSL_CERT_FILE" => Support::PKI.instance.ca_file)
      out, status = sandbox.run(env, "ruby", "-e", script, nginx.url("/hello"), timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(out.lines.map(&:chomp)).to eq(["native got hello", "native close 1000", "faye got hello",
                                            "faye close 1000", library, "[]"])

      # The operator tools from the platform gem (RubyGems' wrapper), through the same edge.
      exe = File.join(gem_home, "bin", "websocket-native")
      out, status = sandbox.run(env, "ruby", exe, "doctor", nginx.url("/echo"), timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(out).to include("Verdict: every step works (exit 0).")
    end
  end
end
