# frozen_string_literal: true

require "openssl"
require "tmpdir"

module Support
  # A throwaway CA and server certificates (EC P-256, fast to make), written to a temp directory.
  class PKI
    attr_reader :dir

    def self.instance
      @instance ||= new
    end

    def initialize
      @dir = Dir.mktmpdir("websocket-native-pki")
      at_exit { FileUtils.rm_rf(@dir) }
      @serial = 0
      @ca_key = OpenSSL::PKey::EC.generate("prime256v1")
      @ca = make_ca
      write("ca.pem", @ca.to_pem)
      # A second, unrelated CA: specs put it in SSL_CERT_FILE to play the system roots.
      @other_ca_key = OpenSSL::PKey::EC.generate("prime256v1")
      @other_ca = make_ca(@other_ca_key, "websocket-native second test CA")
      write("other-ca.pem", @other_ca.to_pem)
    end

    # @return [String] path of the second CA's certificate (see {#server_cert}'s issuer:)
    def other_ca_file
      path("other-ca.pem")
    end

    # @return [String] path of the CA certificate that signs every server certificate
    def ca_file
      path("ca.pem")
    end

    # Writes NAME.crt and NAME.key for these DNS names (or IPv4 addresses); returns [cert_path, key_path].
    # issuer: :other signs it with the second CA.
    def server_cert(name, dns:, not_before: Time.now - 3600, not_after: Time.now + (30 * 86_400), issuer: :test)
      key = OpenSSL::PKey::EC.generate("prime256v1")
      ca, ca_key = issuer == :other ? [@other_ca, @other_ca_key] : [@ca, @ca_key]
      cert = leaf(key, "CN=#{dns.first}", not_before, not_after, ca, ca_key) do |ef, c|
        names = dns.map { |d| d.match?(/\A[\d.]+\z/) ? "IP:#{d}" : "DNS:#{d}" }
        c.add_extension(ef.create_extension("subjectAltName", names.join(","), false))
        c.add_extension(ef.create_extension("extendedKeyUsage", "serverAuth", false))
      end
      [write("#{name}.crt", cert.to_pem), write("#{name}.key", key.to_pem)]
    end

    # A client certificate for mutual TLS; returns [cert_path, key_path].
    def client_cert(name)
      key = OpenSSL::PKey::EC.generate("prime256v1")
      cert = leaf(key, "CN=#{name}", Time.now - 3600, Time.now + 86_400) do |ef, c|
        c.add_extension(ef.create_extension("extendedKeyUsage", "clientAuth", false))
      end
      [write("#{name}.crt", cert.to_pem), write("#{name}.key", key.to_pem)]
    end

    def path(name)
      File.join(@dir, name)
    end

    private

    def write(name, text)
      File.write(path(name), text)
      path(name)
    end

    def base_cert(subject, key, not_before, not_after)
      cert = OpenSSL::X509::Certificate.new
      cert.version = 2
      cert.serial = (@serial += 1)
      cert.subject = OpenSSL::X509::Name.parse(subject)
      cert.public_key = key
      cert.not_before = not_before
      cert.not_after = not_after
      cert
    end

    def make_ca(key = @ca_key, name = "websocket-native test CA")
      cert = base_cert("/CN=#{name}", key, Time.now - 86_400, Time.now + (365 * 86_400))
      cert.issuer = cert.subject
      ef = OpenSSL::X509::ExtensionFactory.new(cert, cert)
      cert.add_extension(ef.create_extension("basicConstraints", "CA:TRUE", true))
      cert.add_extension(ef.create_extension("keyUsage", "keyCertSign,cRLSign", true))
      cert.add_extension(ef.create_extension("subjectKeyIdentifier", "hash", false))
      cert.sign(key, OpenSSL::Digest.new("SHA256"))
      cert
    end

    def leaf(key, subject, not_before, not_after, ca = @ca, ca_key = @ca_key)
      cert = base_cert("/#{subject.tr(',', '/')}", key, not_before, not_after)
      cert.issuer = ca.subject
      ef = OpenSSL::X509::ExtensionFactory.new(ca, cert)
      cert.add_extension(ef.create_extension("basicConstraints", "CA:FALSE", true))
      cert.add_extension(ef.create_extension("keyUsage", "digitalSignature", true))
      cert.add_extension(ef.create_extension("authorityKeyIdentifier", "keyid", false))
      yield ef, cert
      cert.sign(ca_key, OpenSSL::Digest.new("SHA256"))
      cert
    end
  end
end
