# frozen_string_literal: true

require "spec_helper"
require "fileutils"
require "json"
require "rbconfig"
require "tmpdir"

# Autobahn's client cases (sections 1-7, 9 and 10) served by kosoku, a fuzzing server from PyPI,
# to spec/autobahn/client_driver.rb, which echoes every message with the public API.
module AutobahnCases
  SECTIONS = %w[1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.*].freeze
  AGENT = "websocket-native"
  PARALLEL = 4 # cases at once; the whole run takes seconds instead of minutes
  ACCEPTED = %w[OK INFORMATIONAL].freeze

  module_function

  # @return [String, nil] why a case's result is not acceptable
  def verdict(id, entry, outdir)
    behavior, close = entry.values_at("behavior", "behaviorClose")
    return if ACCEPTED.include?(behavior) && ACCEPTED.include?(close)

    details = JSON.parse(File.read(File.join(outdir, entry["reportfile"])))
    "#{id}: behavior #{behavior} (#{details['result']}), close #{close} (#{details['resultClose']}); " \
      "#{details['description']}"
  end
end

RSpec.describe "Autobahn client cases", :autobahn do
  include AutobahnCases

  it "gives OK or INFORMATIONAL for every case" do
    outdir = Dir.mktmpdir("websocket-native-autobahn")
    server = Support::FuzzingServer.new(AutobahnCases::SECTIONS, outdir: outdir)
    driver = File.join(__dir__, "client_driver.rb")
    out, status = Support::TimedCommand.capture(RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__),
                                                driver, server.url, AutobahnCases::AGENT,
                                                AutobahnCases::PARALLEL.to_s, seconds: 300)
    expect(status).to be_success, out
    count = out[/ran (\d+) cases/, 1].to_i

    report = server.report(AutobahnCases::AGENT)
    expect(report.size).to eq(count)
    expect(report.keys.map { |id| id.split(".").first }.uniq).to match_array(%w[1 2 3 4 5 6 7 9 10])
    bad = report.filter_map { |id, entry| verdict(id, entry, outdir) }
    expect(bad).to be_empty, "cases not OK or INFORMATIONAL (reports in #{outdir}):\n#{bad.join("\n")}"
    FileUtils.rm_rf(outdir)
  ensure
    server&.stop
  end
end
