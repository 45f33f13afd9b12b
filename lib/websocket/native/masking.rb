# frozen_string_literal: true

require "uri"

module WebSocket
  module Native
    # Hides secrets before a URL, a header or a request head is printed or logged: credentials in
    # URLs, Authorization / Proxy-Authorization / Cookie values, and token-like query parameters.
    module Masking
      MASK = "***"
      SECRET_HEADERS = %w[authorization proxy-authorization cookie set-cookie].freeze
      # Query parameter names that usually carry a credential.
      SECRET_PARAM = /token|secret|passw|pwd|key|auth|sig|session|jwt|credential|ticket/i.freeze

      module_function

      # @param url [String, URI::Generic]
      # @return [String] the URL without user:password@ and with token-like query values masked
      def url(url)
        text = url.to_s.sub(%r{\A([a-z][a-z0-9+.\-]*://)[^/?#]*@}i, '\1')
        base, q = text.split("?", 2)
        q ? "#{base}?#{query(q)}" : base
      end

      # @param text [String] a query string (a=1&b=2)
      # @return [String] the same with the values of token-like names masked
      def query(text)
        text.split("&", -1).map do |pair|
          name, value = pair.split("=", 2)
          value && name.match?(SECRET_PARAM) ? "#{name}=#{MASK}" : pair
        end.join("&")
      end

      # @return [String] the value, masked for secret headers (an auth scheme word is kept)
      def header(name, value)
        return value unless SECRET_HEADERS.include?(name.to_s.downcase)

        scheme = value.to_s[/\A(Basic|Bearer|Digest|Negotiate|NTLM|Token) /i, 1]
        scheme ? "#{scheme} #{MASK}" : MASK
      end

      # @param text [String] an HTTP request or reply head
      # @return [String] the head with the request target's query and secret header values masked
      def head(text)
        first, *rest = text.split("\r\n")
        first = first.to_s.sub(/\A(\S+ )(\S+)/) { "#{Regexp.last_match(1)}#{target(Regexp.last_match(2))}" }
        lines = rest.map do |line|
          name, value = line.split(":", 2)
          value ? "#{name}: #{header(name, value.strip)}" : line
        end
        [first, *lines].join("\n")
      end

      # A request target (/path?query) with token-like query values masked.
      def target(path)
        url(path)
      end
    end
  end
end
