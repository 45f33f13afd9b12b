# frozen_string_literal: true

require "spec_helper"
require "open3"
require "rbconfig"
require "tmpdir"

# The README's RSpec example, run as written against the project's echo server.
RSpec.describe "the README's spec example for the blocking API" do
  let(:server) { Support::TestServer.instance }

  it "passes against an echo server" do
    readme = File.read(File.expand_path("../../README.md", __dir__))
    example = readme.scan(/```ruby\n(.*?)```/m).flatten.find { |code| code.include?('RSpec.describe "the echo endpoint"') }
    expect(example).not_to be_nil
    Dir.mktmpdir do |dir|
      file = File.join(dir, "echo_endpoint_spec.rb")
      File.write(file, example)
      out, status = Open3.capture2e({ "ECHO_URL" => server.url("/echo") }, "timeout", "60", RbConfig.ruby,
                                    "-I", File.expand_path("../../lib", __dir__), "-S", "rspec", file)
      expect(out).to include("3 examples, 0 failures")
      expect(status).to be_success
    end
  end
end
