# frozen_string_literal: true

require "pathname"
require "uri"

module WebSocket
  module Native
    # Checks a URL and the options of {Client#initialize} and turns them into the plain Hash the
    # native core reads. Every mistake raises {ConfigurationError} naming the option.
    class Options
      DEFAULTS = {
        connect_timeout: 10,
        close_timeout: 10,
        ping: nil,
        pong_timeout: :ping,
        max_length: (2**26) - 1,
        max_handshake_size: 64 * 1024,
        send_limit: 8 * 1024 * 1024
      }.freeze
      KEYS = (DEFAULTS.keys + %i[headers tls proxy logger]).freeze
      NO_TLS = {}.freeze
      TLS_FILES = %i[cert_chain_file private_key_file].freeze
      CA_FILES = %i[ca_file extra_ca_file].freeze
      NO_FILES = [].freeze
      TLS_KEYS = (CA_FILES + %i[verify_peer sni_hostname] + TLS_FILES).freeze
      RESERVED_HEADERS = %w[upgrade connection sec-websocket-key sec-websocket-version
                            sec-websocket-protocol sec-websocket-extensions].freeze
      TOKEN = /\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\z/.freeze

      # @return [URI::Generic] the parsed URL
      attr_reader :uri
      # @return [Array<String>] the subprotocols offered
      attr_reader :protocols
      # @return [Logger, nil] the client's logger (its own, else WebSocket::Native.logger)
      attr_reader :logger

      # @param url [String] a ws:// or wss:// URL
      # @param protocols [String, Array<String>, nil] subprotocols to offer
      # @param options [Hash] see {Client#initialize}
      # @raise [ConfigurationError]
      def initialize(url, protocols, options)
        @uri = parse_url(url)
        @protocols = check_protocols(protocols)
        check_keys(options)
        @options = DEFAULTS.merge(options)
        @tls = check_tls(@options[:tls] || NO_TLS)
        @headers = check_headers(@options[:headers] || {})
        add_basic_auth(@headers, "Authorization", @uri)
        @proxy = check_proxy(@options[:proxy])
        @logger = check_logger(@options[:logger])
        @native = native_hash
      end

      # @return [Boolean] true for wss://
      def secure?
        @uri.scheme == "wss"
      end

      # @return [Boolean] false when tls: { verify_peer: false } was given
      def verify_peer?
        @tls.fetch(:verify_peer, true)
      end

      # @return [Hash] what the native core reads (see ext/websocket_native/src/ruby/options.rs)
      def to_native
        @native
      end

      private

      def native_hash
        {
          secure: secure?, host: @uri.hostname, port: @uri.port, resource: resource,
          protocols: @protocols, headers: @headers, tls: tls_fields(@tls),
          proxy_host: @proxy&.fetch(:host), proxy_port: @proxy&.fetch(:port),
          proxy_headers: @proxy ? @proxy[:headers] : [], proxy_secure: @proxy ? @proxy[:secure] : false,
          proxy_tls: tls_fields(@proxy ? @proxy[:tls] : NO_TLS),
          connect_timeout: seconds(:connect_timeout), close_timeout: seconds(:close_timeout),
          ping: @options[:ping] && seconds(:ping),
          pong_timeout: pong_timeout,
          max_length: positive_integer(:max_length),
          max_handshake_size: positive_integer(:max_handshake_size),
          send_limit: positive_integer(:send_limit),
          log: !@logger.nil?
        }
      end

      # What the core reads for one TLS hop (the server's, or an https:// proxy's).
      def tls_fields(tls)
        tls.empty? ? DEFAULT_TLS_FIELDS : Options.tls_fields(tls)
      end

      # @api private
      # @return [Hash] the core's fields for a hop with these (checked) tls: options
      def self.tls_fields(tls)
        files = tls[:ca_file] || tls[:extra_ca_file]
        {
          verify_peer: tls.fetch(:verify_peer, true), root_cert_files: files ? Array(files).map(&:to_s) : NO_FILES,
          pin_roots: !tls[:ca_file].nil?, sni_hostname: tls[:sni_hostname], cert_chain_file: tls[:cert_chain_file]&.to_s,
          private_key_file: tls[:private_key_file]&.to_s
        }
      end

      # The fields of a hop without tls: options, shared by every such client (frozen).
      DEFAULT_TLS_FIELDS = tls_fields(NO_TLS).freeze

      def fail!(message)
        raise ConfigurationError, message
      end

      # Parsed URLs by URL text, frozen: the clients of a process usually share a few URLs, and
      # parsing one makes about 17 objects (garbage that thousands of clients leave behind in
      # sparse heap pages).
      # Single Hash operations need no lock under the GVL (and a Mutex would fail in a trap).
      PARSED_URLS = {} # rubocop:disable Style/MutableConstant
      PARSED_URLS_MAX = 64

      def parse_url(url)
        fail!("url must be a String like \"wss://app.example.com/socket\", not #{url.inspect}") unless url.is_a?(String)
        PARSED_URLS[url] || remember_url(url, parse_new_url(url))
      end

      # Kept unless it carries credentials or a query (often a token): those are not held in
      # memory after their client is gone, and would only churn the cache.
      def remember_url(url, uri)
        return uri if uri.userinfo || uri.query

        [uri.scheme, uri.host, uri.path, uri.fragment, uri.opaque].each { |part| part&.freeze }
        PARSED_URLS.clear if PARSED_URLS.size >= PARSED_URLS_MAX
        PARSED_URLS[url] = uri.freeze
      end

      def parse_new_url(url)
        uri = begin
          URI.parse(url)
        rescue URI::InvalidURIError => e
          fail!("#{url.inspect} is not a valid URL: #{e.message}")
        end
        unless %w[ws wss].include?(uri.scheme&.downcase)
          fail!("#{url.inspect} must start with ws:// or wss:// (got #{uri.scheme ? "#{uri.scheme}://" : 'no scheme'})")
        end
        uri.scheme = uri.scheme.downcase
        fail!("#{url.inspect} has no host name") if uri.hostname.nil? || uri.hostname.empty?
        # Ruby < 3.3's URI knows no ws/wss default port.
        uri.port ||= uri.scheme == "wss" ? 443 : 80
        fail!("#{url.inspect} has port #{uri.port}, which is not a TCP port") unless (1..65_535).cover?(uri.port)
        uri
      end

      def resource
        path = @uri.path.nil? || @uri.path.empty? ? "/" : @uri.path
        @uri.query ? "#{path}?#{@uri.query}" : path
      end

      def check_protocols(protocols)
        list = protocols.nil? ? [] : Array(protocols)
        list.map do |p|
          text = p.is_a?(Symbol) ? p.to_s : p
          unless text.is_a?(String) && text.match?(TOKEN)
            fail!("subprotocol #{p.inspect} must be a String token (letters, digits, - . _ and similar)")
          end
          text
        end
      end

      def check_keys(options)
        fail!("options must be a Hash, not #{options.class}") unless options.is_a?(Hash)
        unknown = unknown_keys(options, KEYS)
        return unless unknown

        fail!("unknown option#{'s' if unknown.size > 1} #{unknown.map(&:inspect).join(', ')}; " \
              "known options are #{KEYS.map(&:inspect).join(', ')}")
      end

      # The keys of `hash` that are not in `known`, or nil (no Array is made when all are known).
      def unknown_keys(hash, known)
        unknown = nil
        hash.each_key { |key| (unknown ||= []) << key unless known.include?(key) }
        unknown
      end

      def check_tls(tls)
        fail!("tls must be a Hash, not #{tls.class}") unless tls.is_a?(Hash)
        check_roots(tls)
        unknown = unknown_keys(tls, TLS_KEYS)
        fail!("unknown tls option #{unknown.map(&:inspect).join(', ')}; known are #{TLS_KEYS.join(', ')}") if unknown
        check_type(tls, :verify_peer, "tls.verify_peer must be true or false") { |v| [true, false].include?(v) }
        check_type(tls, :sni_hostname, "tls.sni_hostname must be a host name String") do |v|
          v.is_a?(String) && !v.empty? && v.match?(/\A[A-Za-z0-9.\-_]+\z/)
        end
        TLS_FILES.each do |k|
          check_type(tls, k, "tls.#{k} must be a path") { |v| v.is_a?(String) || v.is_a?(Pathname) }
        end
        tls
      end

      # ca_file: trusts only these files (as OpenSSL's ca_file and faye's root_cert_file do);
      # extra_ca_file: adds them to the system roots. One rule each, never both at once.
      def check_roots(tls)
        if tls.key?(:root_cert_file)
          fail!("tls.root_cert_file is no longer read, because its meaning differed (faye-websocket trusts only those " \
                "files; websocket-native added them to the system roots): use tls: { ca_file: } to trust only these " \
                "CA files, or tls: { extra_ca_file: } to trust them and the system roots")
        end
        fail!("give tls.ca_file (trust only these) or tls.extra_ca_file (add to the system roots), not both") if tls[:ca_file] && tls[:extra_ca_file]
        CA_FILES.each do |key|
          next if tls[key].nil?

          paths = Array(tls[key])
          fail!("tls.#{key} must be a path or a non-empty list of paths, not #{tls[key].inspect}") if paths.empty? || !paths.all? { |r| r.is_a?(String) || r.is_a?(Pathname) }
        end
      end

      def check_type(hash, key, message)
        value = hash[key]
        fail!("#{message}, not #{value.inspect}") if !value.nil? && !yield(value)
      end

      def check_headers(headers)
        fail!("headers must be a Hash, not #{headers.class}") unless headers.is_a?(Hash)
        headers.map do |name, value|
          name = name.to_s
          fail!("header name #{name.inspect} is not a valid HTTP token") unless name.match?(TOKEN)
          if RESERVED_HEADERS.include?(name.downcase)
            fail!("header #{name} is set by the client itself (subprotocols go in the protocols argument)")
          end
          value = value.to_s
          fail!("header #{name} has a line break or NUL in its value") if value.match?(/[\r\n\0]/)
          [name, value]
        end
      end

      def check_logger(logger)
        unless logger.nil? || logger == false || Logging.logger?(logger)
          fail!("logger must be a Logger (or false for none), not #{logger.inspect}")
        end
        Logging.resolve(logger)
      end

      def check_proxy(proxy)
        return nil if proxy.nil?

        proxy = { origin: proxy } if proxy.is_a?(String)
        fail!("proxy must be a URL String or a Hash with :origin, not #{proxy.class}") unless proxy.is_a?(Hash)
        unknown = proxy.keys - %i[origin headers tls]
        fail!("unknown proxy option #{unknown.map(&:inspect).join(', ')}") unless unknown.empty?
        origin = begin
          URI.parse(proxy[:origin].to_s)
        rescue URI::InvalidURIError => e
          fail!("proxy origin #{proxy[:origin].inspect} is not a valid URL: #{e.message}")
        end
        fail!("proxy origin #{proxy[:origin].inspect} must be an http:// or https:// URL") unless %w[http https].include?(origin.scheme) && origin.hostname
        secure = origin.scheme == "https"
        fail!("proxy tls options apply to an https:// proxy origin, not #{proxy[:origin].inspect}") if proxy[:tls] && !secure
        tls = check_tls(proxy[:tls] || {})
        if tls[:verify_peer] == false
          Native.warn_once(:proxy_verify_peer, "websocket-native: proxy tls verify_peer is false for #{proxy[:origin]}; " \
                                               "the proxy's certificate is not checked")
        end
        headers = check_headers(proxy[:headers] || {})
        add_basic_auth(headers, "Proxy-Authorization", origin)
        { host: origin.hostname, port: origin.port, headers: headers, secure: secure, tls: tls }
      end

      # user:password@ in a URL becomes a Basic credential, unless the header was given.
      def add_basic_auth(headers, name, uri)
        return if uri.userinfo.nil? || headers.any? { |k, _| k.casecmp?(name) }

        credentials = [uri.user, uri.password].map { |part| URI.decode_www_form_component(part.to_s) }.join(":")
        headers << [name, "Basic #{[credentials].pack('m0')}"]
      end

      # Durations are checked here so the core never sees one it cannot add to a clock.
      SECONDS = (0.001..(365 * 86_400)).freeze
      # Integer options stay below this (no Bignum in the core).
      INTEGER_LIMIT = 2**62

      def seconds(key)
        value = @options[key]
        unless value.is_a?(Numeric) && SECONDS.cover?(value)
          fail!("#{key} must be a number of seconds from 0.001 to one year (#{SECONDS.max.to_i}), not #{value.inspect}")
        end
        value.to_f
      end

      # By default a link that answers no ping within one ping interval is dropped; false turns
      # that off (pings are then only keepalives, as in faye-websocket).
      def pong_timeout
        value = @options[:pong_timeout]
        return (@options[:ping] && seconds(:ping)) if value == :ping
        return nil if value.nil? || value == false

        seconds(:pong_timeout)
      end

      def positive_integer(key)
        value = @options[key]
        ok = value.is_a?(Integer) && value.positive? && value < INTEGER_LIMIT
        fail!("#{key} must be a positive Integer, not #{value.inspect}") unless ok
        value
      end
    end
  end
end
