# frozen_string_literal: true

# Pins the trust store for the clients under test to the system bundle, which lacks the test CA.
RSpec.shared_context "system trust store" do
  around do |example|
    saved = ENV.fetch("SSL_CERT_FILE", nil)
    ENV["SSL_CERT_FILE"] = File.exist?("/etc/ssl/certs/ca-certificates.crt") ? "/etc/ssl/certs/ca-certificates.crt" : File::NULL
    example.run
  ensure
    saved ? ENV["SSL_CERT_FILE"] = saved : ENV.delete("SSL_CERT_FILE")
  end
end
