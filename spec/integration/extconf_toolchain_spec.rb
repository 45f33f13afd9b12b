# frozen_string_literal: true

require "spec_helper"
require "tmpdir"

# The source gem on a box without the toolchain: extconf.rb stops at once with one message.
RSpec.describe "extconf.rb without a toolchain" do
  sandbox = Support::GemSandbox
  extconf = File.join(sandbox::ROOT, "ext/websocket_native/extconf.rb")

  def expect_advice(out)
    expect(out).to include("websocket-native cannot be built from source on this machine; missing:")
    expect(out).to include("sudo apt-get install -y gcc ruby-dev libclang-dev")
    expect(out).to include("https://sh.rustup.rs")
    expect(out).to include("precompiled platform gem", "x86_64-linux", "`gem install websocket-native`")
  end

  it "names cargo, the C compiler and libclang, and generates nothing" do
    Dir.mktmpdir("websocket-native-extconf") do |dir|
      out, status = sandbox.run(sandbox.bare_env(dir), "ruby", extconf, timeout: 30, chdir: dir)
      expect(status).not_to be_success
      expect_advice(out)
      expect(out).to include("cargo (Rust's build tool): not on PATH, not in ~/.cargo/bin",
                             "a C compiler and linker (cc): not on PATH", "libclang (LIBCLANG_PATH=#{dir}/no-libclang")
      expect(out).not_to include("Ruby's headers")
      expect(Dir.children(dir)).to contain_exactly("bin")
    end
  end

  it "names Ruby's headers when ruby-dev is missing" do
    Dir.mktmpdir("websocket-native-extconf") do |dir|
      # As on a box without ruby-dev: the header directory Ruby was built with is empty.
      headers = File.join(dir, "include")
      Dir.mkdir(headers)
      preload = File.join(dir, "no_ruby_dev.rb")
      File.write(preload, "require 'rbconfig'\nRbConfig::CONFIG['rubyhdrdir'] = #{headers.dump}\n")
      out, status = sandbox.run(sandbox.toolchain_env,
                                RbConfig.ruby, "-r", preload, extconf, timeout: 60, chdir: dir)
      expect(status).not_to be_success
      expect_advice(out)
      expect(out).to include("Ruby's headers (ruby.h in #{headers})")
      expect(out).not_to include("cargo (Rust", "C compiler", "libclang (")
      expect(File).not_to exist(File.join(dir, "Makefile"))
    end
  end

  it "writes the Makefile when everything is there" do
    Dir.mktmpdir("websocket-native-extconf") do |dir|
      out, status = sandbox.run(sandbox.toolchain_env,
                                RbConfig.ruby, extconf, timeout: 60, chdir: dir)
      expect(status).to be_success, out
      expect(File.read(File.join(dir, "Makefile"))).to include("$(CARGO) build --release --locked --manifest-path")
    end
  end
end
