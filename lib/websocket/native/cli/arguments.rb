# frozen_string_literal: true

require "optparse"
require "uri"
require_relative "exit_codes"

module WebSocket
  module Native
    module CLI
      # Bad arguments: the command prints its usage and exits 2.
      class UsageError < StandardError; end

      # The options doctor and connect share, parsed with OptionParser, and the client options
      # they turn into. The proxy also comes from https_proxy / HTTPS_PROXY (wss://) or
      # http_proxy (ws://) unless no_proxy / NO_PROXY names the host.
      class Arguments
        # @return [String] the URL argument
        attr_reader :url
        # @return [Array<String>] subprotocols (--protocol)
        attr_reader :protocols
        # @return [Float] seconds per step (--timeout)
        attr_reader :timeout
        # @return [String, nil] --sni
        attr_reader :sni
        # @return [Boolean] --help was given
        attr_reader :help
        # @return [OptionParser]
        attr_reader :parser

        # @param command [String] doctor or connect
        # @param summary [String] one line under the usage line
        # @param env [Hash] the environment (for the proxy variables)
        # @yieldparam parser [OptionParser] add the command's own options
        def initialize(command, summary, env: ENV)
          @env = env
          @headers = {}
          @protocols = []
          @ca_files = []
          @timeout = 10.0
          @parser = build_parser(command, summary) { |o| yield o if block_given? }
        end

        # @param argv [Array<String>]
        # @return [self]
        # @raise [UsageError]
        def parse(argv)
          rest = @parser.parse(argv)
          return self if @help
          raise UsageError, "give one URL (ws:// or wss://)#{", not #{rest.size}" if rest.size > 1}" unless rest.size == 1

          @url = rest.first
          self
        rescue OptionParser::ParseError => e
          raise UsageError, e.message
        end

        # @return [String] the usage text with every option and the exit codes
        def usage
          @parser.help
        end

        # @return [Hash] keyword options for {Client#initialize}
        def client_options
          tls = { sni_hostname: @sni, verify_peer: (@insecure ? false : nil) }.compact
          tls[:extra_ca_file] = @ca_files unless @ca_files.empty?
          options = { headers: @headers, tls: tls, connect_timeout: @timeout }
          options[:proxy] = proxy_option if proxy
          options
        end

        # The proxy for the client: an https:// proxy's TLS takes --ca and --insecure too.
        def proxy_option
          return proxy unless proxy.downcase.start_with?("https:")

          tls = { verify_peer: (@insecure ? false : nil) }.compact
          tls[:extra_ca_file] = @ca_files unless @ca_files.empty?
          tls.empty? ? proxy : { origin: proxy, tls: tls }
        end

        # @return [String, nil] the proxy URL: --proxy, else the environment's
        def proxy
          return @proxy if @proxy
          return nil if @no_env_proxy

          secure = @url.to_s.downcase.start_with?("wss:")
          names = secure ? %w[https_proxy HTTPS_PROXY] : %w[http_proxy]
          from_env = names.map { |n| @env[n] }.find { |v| v && !v.empty? }
          from_env unless from_env.nil? || bypassed?
        end

        # @return [String, nil] which environment variable gave the proxy, for the report
        def proxy_source
          return "--proxy" if @proxy

          proxy && (@url.to_s.downcase.start_with?("wss:") ? "https_proxy" : "http_proxy")
        end

        private

        def build_parser(command, summary)
          OptionParser.new do |o|
            o.banner = "Usage: websocket-native #{command} URL [options]"
            o.separator(summary)
            o.separator("")
            o.on("-H", "--header 'NAME: VALUE'", "an extra request header (repeatable)") { |h| add_header(h) }
            o.on("-P", "--protocol NAME", "a subprotocol to offer (repeatable)") { |p| @protocols << p }
            o.on("--ca FILE", "trust this CA file too (PEM; repeatable)") { |f| @ca_files << f }
            o.on("--sni NAME", "present this name (SNI and Host) instead of the URL host") { |n| @sni = n }
            o.on("-k", "--insecure", "do not check the server certificate") { @insecure = true }
            o.on("--proxy URL", "an http:// or https:// CONNECT proxy (default: $https_proxy for wss://)") { |u| @proxy = u }
            o.on("--no-proxy", "ignore the proxy environment variables") { @no_env_proxy = true }
            o.on("--timeout SECONDS", Float, "limit for each step (default 10)") { |s| @timeout = positive(s) }
            yield o
            o.on("-h", "--help", "this text") { @help = true }
            o.separator("")
            o.separator(ExitCodes::HELP)
          end
        end

        def add_header(text)
          name, value = text.split(":", 2)
          raise UsageError, "--header wants 'Name: value', not #{text.inspect}" if value.nil? || name.strip.empty?

          @headers[name.strip] = value.strip
        end

        def positive(seconds)
          raise UsageError, "--timeout must be more than 0 seconds" unless seconds.positive?

          seconds
        end

        # no_proxy: comma-separated host names, domain suffixes (.example.com) or "*".
        def bypassed?
          host = URI.parse(@url.to_s).hostname.to_s.downcase
          list = (@env["no_proxy"] || @env["NO_PROXY"]).to_s.split(",").map { |e| e.strip.downcase }
          list.any? do |entry|
            next false if entry.empty?

            entry == "*" || host == entry.delete_prefix(".") || host.end_with?(".#{entry.delete_prefix('.')}")
          end
        rescue URI::Error
          false
        end
      end
    end
  end
end
