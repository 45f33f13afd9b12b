# frozen_string_literal: true

module Faye
  class WebSocket
    # Turns faye-websocket's client options into websocket-native's, the way faye reads them:
    # unknown tls keys are ignored, nil header values skipped, headers the client sets itself
    # dropped. What cannot be honoured is said once on stderr.
    class NativeOptions
      FAYE_KEYS = %i[headers extensions max_length ping proxy tls].freeze
      # websocket-native's own options, accepted here too.
      NATIVE_KEYS = %i[connect_timeout close_timeout pong_timeout send_limit binary_data_format binary_strings reconnect
                       logger].freeze
      # The largest send_limit the core accepts: in effect none.
      UNLIMITED = (2**62) - 1
      TLS_KEYS = %i[root_cert_file verify_peer sni_hostname cert_chain_file private_key_file].freeze
      OWN_HEADERS = %w[host upgrade connection sec-websocket-key sec-websocket-version
                       sec-websocket-protocol sec-websocket-extensions].freeze

      # @return [Symbol] :array (faye's default) or :string
      attr_reader :binary_data_format
      # @return [Boolean] true: a BINARY String goes as a binary frame (faye 0.11: as text)
      attr_reader :binary_strings

      # @param options [Hash] faye-style options
      # @raise [WebSocket::Native::ConfigurationError] for unknown keys or wrong types
      def initialize(options)
        @options = options || {}
        fail!("options must be a Hash, not #{@options.class}") unless @options.is_a?(Hash)
        unknown = @options.keys - FAYE_KEYS - NATIVE_KEYS
        fail!("unknown option #{unknown.map(&:inspect).join(', ')}; faye-websocket options are #{FAYE_KEYS.map(&:inspect).join(', ')}") unless unknown.empty?
        @binary_data_format = @options.fetch(:binary_data_format, :array)
        fail!("binary_data_format must be :array or :string, not #{@binary_data_format.inspect}") unless %i[array string].include?(@binary_data_format)
        @binary_strings = @options.fetch(:binary_strings, false)
        fail!("binary_strings must be true or false, not #{@binary_strings.inspect}") unless [true, false].include?(@binary_strings)
      end

      # @return [Hash] keyword options for WebSocket::Native::Client
      def to_native
        # faye's ping: only sends pings; dropping a silent link is opt-in (pong_timeout:).
        # faye buffered without limit and its send never raised: a limit is opt-in here (send_limit:).
        native = { close_timeout: API::CLOSE_TIMEOUT, pong_timeout: false, send_limit: UNLIMITED }
        native[:headers] = headers(@options[:headers]) if @options[:headers]
        native[:tls] = tls(@options[:tls]) if @options[:tls]
        native[:proxy] = proxy(@options[:proxy]) if proxy?
        %i[max_length ping pong_timeout send_limit connect_timeout close_timeout reconnect logger].each do |key|
          native[key] = @options[key] if @options.key?(key)
        end
        extensions(@options[:extensions])
        native
      end

      private

      def fail!(message)
        raise ::WebSocket::Native::ConfigurationError, message
      end

      def note(key, message)
        ::WebSocket::Native.warn_once(key, "websocket-native (faye drop-in): #{message}")
      end

      def headers(given)
        fail!("headers must be a Hash, not #{given.class}") unless given.is_a?(Hash)
        given.each_with_object({}) do |(name, value), out|
          next if value.nil?

          if OWN_HEADERS.include?(name.to_s.downcase)
            note(:"header_#{name.to_s.downcase}", "header #{name} is set by the client itself; the given value is ignored, as faye does")
            next
          end
          out[name.to_s] = value.to_s
        end
      end

      # faye's root_cert_file trusts only those files (the system roots only when none is given).
      def tls(given)
        fail!("tls must be a Hash, not #{given.class}") unless given.is_a?(Hash)
        ignored = given.keys - TLS_KEYS
        unless ignored.empty?
          note(:"tls_#{ignored.sort.join('_')}",
               "tls option#{'s' if ignored.size > 1} #{ignored.map(&:inspect).join(', ')} ignored: " \
               "rustls picks TLS 1.2/1.3 and modern cipher suites itself")
        end
        native = given.slice(*TLS_KEYS)
        roots = native.delete(:root_cert_file)
        native[:ca_file] = roots if roots
        native
      end

      # As faye reads it: a Hash whose :origin is nil or false asks for no proxy.
      def proxy?
        given = @options[:proxy]
        given.is_a?(Hash) ? given[:origin] : given
      end

      # Proxy tls: options are read (as the server's) for an https:// proxy; faye ignores them for
      # an http:// one.
      def proxy(given)
        return given if given.is_a?(String)
        fail!("proxy must be a Hash with :origin, not #{given.class}") unless given.is_a?(Hash)

        native = given.slice(:origin, :headers)
        native[:tls] = tls(given[:tls]) if given[:tls] && given[:origin].to_s.match?(/\Ahttps:/i)
        native
      end

      def extensions(given)
        list = [*given]
        return if list.empty?

        names = list.map { |e| e.respond_to?(:name) ? e.name : e.class.name }
        note(:extensions, "WebSocket extensions are not implemented (#{names.join(', ')}); " \
                          "messages are sent and received uncompressed")
      end
    end
  end
end
