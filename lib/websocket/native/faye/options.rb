# frozen_string_literal: true

module Faye
  class WebSocket
    # Turns faye-websocket's client options into websocket-native's, the way faye reads them:
    # unknown tls keys are ignored, nil header values skipped, headers the client sets itself
    # dropped. What cannot be honoured is said once on stderr.
    class NativeOptions
      FAYE_KEYS = %i[headers extensions max_length ping proxy tls].freeze
      # websocket-native's own options, accepted here too.
      NATIVE_KEYS = %i[connect_timeout close_timeout binary_data_format logger].freeze
      TLS_KEYS = %i[root_cert_file verify_peer sni_hostname cert_chain_file private_key_file].freeze
      OWN_HEADERS = %w[host upgrade connection sec-websocket-key sec-websocket-version
                       sec-websocket-protocol sec-websocket-extensions].freeze

      # @return [Symbol] :array (faye's default) or :string
      attr_reader :binary_data_format

      # @param options [Hash] faye-style options
      # @raise [WebSocket::Native::ConfigurationError] for unknown keys or wrong types
      def initialize(options)
        @options = options || {}
        fail!("options must be a Hash, not #{@options.class}") unless @options.is_a?(Hash)
        unknown = @options.keys - FAYE_KEYS - NATIVE_KEYS
        fail!("unknown option #{unknown.map(&:inspect).join(', ')}; faye-websocket options are #{FAYE_KEYS.map(&:inspect).join(', ')}") unless unknown.empty?
        @binary_data_format = @options.fetch(:binary_data_format, :array)
        fail!("binary_data_format must be :array or :string, not #{@binary_data_format.inspect}") unless %i[array string].include?(@binary_data_format)
      end

      # @return [Hash] keyword options for WebSocket::Native::Client
      def to_native
        native = { close_timeout: API::CLOSE_TIMEOUT }
        native[:headers] = headers(@options[:headers]) if @options[:headers]
        native[:tls] = tls(@options[:tls]) if @options[:tls]
        native[:proxy] = proxy(@options[:proxy]) if @options[:proxy]
        %i[max_length ping connect_timeout close_timeout logger].each do |key|
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

      def tls(given)
        fail!("tls must be a Hash, not #{given.class}") unless given.is_a?(Hash)
        ignored = given.keys - TLS_KEYS
        unless ignored.empty?
          note(:"tls_#{ignored.sort.join('_')}",
               "tls option#{'s' if ignored.size > 1} #{ignored.map(&:inspect).join(', ')} ignored: " \
               "rustls picks TLS 1.2/1.3 and modern cipher suites itself")
        end
        given.slice(*TLS_KEYS)
      end

      def proxy(given)
        return given if given.is_a?(String)
        fail!("proxy must be a Hash with :origin, not #{given.class}") unless given.is_a?(Hash)

        note(:proxy_tls, "proxy tls options are ignored: only http:// proxies are supported") if given[:tls]
        given.slice(:origin, :headers)
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
