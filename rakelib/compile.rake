# frozen_string_literal: true

require "rake/extensiontask"

# One cargo target dir for `rake compile`, `cargo test` and clippy, so nothing builds cold twice.
ENV["CARGO_TARGET_DIR"] ||= File.expand_path("../target", __dir__)

spec = Gem::Specification.load(File.expand_path("../native.gemspec", __dir__))
# Ruby versions a cross build (rb-sys-dock / rake-compiler-dock, see RELEASING.md) compiles for.
cross_rubies = ENV["RUBY_CC_VERSION"].to_s.split(":")

Rake::ExtensionTask.new("websocket_native", spec) do |ext|
  ext.ext_dir = "ext/websocket_native"
  # A cross build puts each library where the loader looks for its ABI: lib/websocket/native/3.1/.
  ext.lib_dir = case cross_rubies.size
                when 0 then "lib/websocket"
                when 1 then "lib/websocket/native/#{cross_rubies.first[/\A\d+\.\d+/]}"
                else "lib/websocket/native" # rake-compiler appends the ABI itself
                end
  ext.no_native = true # rakelib/native.rake builds the local platform gem
  ext.cross_compile = true
  ext.cross_platform = %w[x86_64-linux x86_64-linux-musl aarch64-linux aarch64-linux-musl x86_64-darwin arm64-darwin]
  ext.cross_compiling { |platform_spec| platform_spec.files.reject! { |f| f.match?(PlatformGem::BUILD_INPUTS) } }
end

desc "Build the project's echo/fault server used by the specs and benchmarks"
task :testserver do
  sh "cargo", "build", "--release", "--locked", "-p", "websocket-native-testserver"
end
