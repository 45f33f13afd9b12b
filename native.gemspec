# frozen_string_literal: true

require_relative "lib/websocket/native/version"

Gem::Specification.new do |spec|
  spec.name = "websocket-native"
  spec.version = WebSocket::Native::VERSION
  spec.summary = "WebSocket client with a Rust core: SNI and verified TLS by default, errors that explain themselves"
  spec.description = <<~TEXT
    A WebSocket client for Ruby whose sockets, TLS (rustls) and protocol run in Rust on tokio.
    Sends SNI for host names, verifies certificates, and reports every failure with the step that
    broke (DNS, TCP, proxy, TLS, HTTP upgrade, WebSocket) and why. Includes a drop-in for
    faye-websocket's client and a small EventMachine-compatible reactor.
  TEXT
  spec.authors = ["websocket-native developers"]
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.0"

  spec.files = Dir[
    "lib/**/*.rb", "exe/*", "ext/websocket_native/extconf.rb", "ext/websocket_native/toolchain.rb",
    "ext/websocket_native/Cargo.toml", "ext/websocket_native/build.rs",
    "ext/websocket_native/src/**/*.rs", "testserver/Cargo.toml", "testserver/src/**/*.rs",
    "Cargo.toml", "Cargo.lock", "README.md", "CHANGELOG.md", "LICENSE", "doc/*.md"
  ]
  spec.bindir = "exe"
  spec.executables = Dir["exe/*"].map { |f| File.basename(f) }
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/websocket_native/extconf.rb"]

  spec.add_development_dependency "rake", ">= 13"
  spec.add_development_dependency "rake-compiler", ">= 1.1"
  spec.add_development_dependency "rspec", ">= 3.10"
end
