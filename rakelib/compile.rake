# frozen_string_literal: true

require "rake/extensiontask"

# One cargo target dir for `rake compile`, `cargo test` and clippy, so nothing builds cold twice.
ENV["CARGO_TARGET_DIR"] ||= File.expand_path("../target", __dir__)

spec = Gem::Specification.load(File.expand_path("../native.gemspec", __dir__))
Rake::ExtensionTask.new("websocket_native", spec) do |ext|
  ext.ext_dir = "ext/websocket_native"
  ext.lib_dir = "lib/websocket"
  ext.no_native = true # rakelib/native.rake builds the platform gem (one library per Ruby ABI)
end

desc "Build the project's echo/fault server used by the specs and benchmarks"
task :testserver do
  sh "cargo", "build", "--release", "--locked", "-p", "websocket-native-testserver"
end
