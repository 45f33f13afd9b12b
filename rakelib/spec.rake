# frozen_string_literal: true

require "rspec/core/rake_task"

RSpec::Core::RakeTask.new(:spec)
task spec: %i[compile testserver]

desc "cargo fmt --check, clippy -D warnings and the Rust unit tests"
task :rust do
  sh "cargo fmt --all -- --check"
  sh "cargo clippy --workspace --all-targets --locked -- -D warnings"
  sh "cargo test --workspace --locked"
end
