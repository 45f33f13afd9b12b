# frozen_string_literal: true

require "openssl"
require "time"

module WebSocket
  module Native
    module CLI
      # What an operator wants to know about one certificate of the server's chain, read from
      # the DER bytes the probe recorded.
      module Certificate
        module_function

        # @param der [String] the certificate as DER
        # @param name [String, nil] the name the client checks (leaf only)
        # @return [Hash] subject, issuer, names, not_after (ISO 8601), days_left, name_matches
        def describe(der, name: nil, now: Time.now)
          cert = OpenSSL::X509::Certificate.new(der)
          info = {
            subject: cert.subject.to_s(OpenSSL::X509::Name::RFC2253),
            issuer: cert.issuer.to_s(OpenSSL::X509::Name::RFC2253),
            names: names(cert),
            not_after: cert.not_after.utc.iso8601,
            days_left: ((cert.not_after - now) / 86_400).floor,
            sha256: OpenSSL::Digest::SHA256.hexdigest(der)
          }
          info[:name_matches] = matches?(cert, name) if name
          info
        rescue OpenSSL::X509::CertificateError => e
          { error: "could not be read: #{e.message}" }
        end

        # Subject alternative names (DNS and IP), as "name" strings.
        def names(cert)
          ext = cert.extensions.find { |e| e.oid == "subjectAltName" }
          return [] unless ext

          ext.value.split(",").map { |v| v.strip.sub(/\A(DNS|IP Address):/, "") }
        end

        def matches?(cert, name)
          OpenSSL::SSL.verify_certificate_identity(cert, name)
        rescue StandardError
          false
        end
      end
    end
  end
end
