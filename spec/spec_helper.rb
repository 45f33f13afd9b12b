# frozen_string_literal: true

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "tempfile"
require "websocket/native"
Dir[File.join(__dir__, "support", "*.rb")].sort.each { |f| require f }

RSpec.configure do |config|
  config.include Support::Recorder
  config.disable_monkey_patching!
  config.order = :defined
  config.expect_with(:rspec) { |c| c.max_formatted_output_length = 2000 }
end
