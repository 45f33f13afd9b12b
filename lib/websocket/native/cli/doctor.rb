# frozen_string_literal: true

require "ipaddr"
require "socket"
require_relative "command"
require_relative "exit_codes"
require_relative "findings"
require_relative "doctor_report"

module WebSocket
  module Native
    module CLI
      # `websocket-native doctor URL`: probes each step of a connection from this box (with the
      # core's own dialing code), also tries TLS without SNI, retries a handshake that looks like
      # an SNI problem with the likely name, and prints the findings (text or --json).
      class Doctor < Command
        PINGS = 3
        SUMMARY = "Checks every step of a WebSocket connection from this box and says what to fix."

        def initialize(argv, out:, err:)
          super("doctor", SUMMARY, argv, out: out, err: err) do |o|
            o.on("--json", "print the report as JSON (same content)") { @json = true }
          end
        end

        private

        # @return [Integer] exit status (see ExitCodes)
        def execute
          findings = examine
          report = DoctorReport.new(findings)
          @out.puts(@json ? report.to_json : report.to_text)
          findings.exit_code
        end

        def examine
          proxy = @args.proxy && { url: @args.proxy, source: @args.proxy_source }
          settings, url_step = check_url
          return Findings.new(url: @args.url, url_step: url_step, proxy: proxy) unless settings

          steps = probe(settings)
          Findings.new(url: @args.url, url_step: url_step, steps: steps, proxy: proxy,
                       without_sni: settings.secure? ? probe(settings, send_sni: false, tls_only: true) : nil,
                       sni_retry: sni_retry(steps))
        end

        # The URL and the options, checked as Client.new checks them.
        def check_url
          settings = Options.new(@args.url, @args.protocols, @args.client_options)
          uri = settings.uri
          facts = { scheme: uri.scheme, host: uri.hostname, port: uri.port, resource: resource(uri),
                    ip_literal: ip?(uri.hostname) }
          [settings, { name: "url", ok: true, ms: nil, error: nil, facts: facts }]
        rescue ConfigurationError => e
          [nil, { name: "url", ok: false, ms: nil, error: e.message, facts: {} }]
        end

        def resource(uri)
          path = uri.path.to_s.empty? ? "/" : uri.path
          uri.query ? "#{path}?#{uri.query}" : path
        end

        def ip?(host)
          IPAddr.new(host.to_s)
          true
        rescue IPAddr::Error
          false
        end

        # Runs the native probe and waits for it on a descriptor, so Ctrl-C still works.
        def probe(settings, send_sni: true, tls_only: false)
          probe = Probe.start(settings.to_native, send_sni, tls_only, tls_only ? 0 : PINGS, @args.timeout)
          io = IO.for_fd(probe.fd, autoclose: false)
          loop do
            result = probe.result
            return result if result

            io.wait_readable(1)
          end
        ensure
          io&.close
        end

        # When TLS failed the way an edge fails a missing or unknown SNI name, tries once more
        # with the likely name: a Host header given, else the reverse-DNS name of the address.
        def sni_retry(steps)
          tls = steps.find { |s| s[:name] == "tls" }
          return nil unless tls && !tls[:ok] && Findings::SNI_TROUBLE.include?(tls[:facts][:trouble])

          name = likely_name(steps, tls[:facts][:sni])
          return nil unless name

          options = @args.client_options
          options[:tls] = options[:tls].merge(sni_hostname: name)
          { sni: name, steps: probe(Options.new(@args.url, @args.protocols, options)) }
        end

        def likely_name(steps, sent)
          host = @args.client_options[:headers].find { |k, _| k.casecmp?("host") }&.last&.sub(/:\d+\z/, "")
          address = steps.find { |s| s[:name] == "tcp" }&.dig(:facts, :attempts)&.find { |a| a[:ok] }&.fetch(:address)
          [host, reverse_name(address)].compact.find { |n| n != sent && !ip?(n) }
        end

        def reverse_name(address)
          return nil unless address && !@args.proxy

          ip = address.sub(/:\d+\z/, "").delete("[]")
          Addrinfo.tcp(ip, 0).getnameinfo(Socket::NI_NAMEREQD).first
        rescue SocketError, SystemCallError
          nil
        end
      end
    end
  end
end
