# frozen_string_literal: true

require "ipaddr"
require_relative "certificate"
require_relative "exit_codes"
require "websocket/native/masking"

module WebSocket
  module Native
    module CLI
      # The doctor's conclusions from the probes' facts: each step made presentable (secrets
      # masked, certificates read), whether the edge requires SNI, the verdict and the fix.
      # The text and the JSON report both print exactly this.
      class Findings
        TITLES = { "url" => "URL", "dns" => "DNS", "tcp" => "TCP", "proxy" => "Proxy", "tls" => "TLS",
                   "http" => "HTTP upgrade", "websocket" => "WebSocket" }.freeze
        SNI_TROUBLE = %w[name_rejected hung_up].freeze

        # @return [Array<Hash>] the steps of the main probe: name, ok, ms, error, facts
        attr_reader :steps
        # @return [Hash, nil] the TLS step of the handshake without SNI
        attr_reader :without_sni
        # @return [Hash, nil] { sni:, steps: } of the retry with the likely name
        attr_reader :sni_retry

        # @param url [String]
        # @param url_step [Hash] the URL step (facts, or the configuration error)
        # @param steps [Array<Hash>] the main probe's steps, as Probe#result gives them
        # @param without_sni [Array<Hash>, nil] the steps of the no-SNI attempt
        # @param sni_retry [Hash, nil] { sni: name, steps: [...] }
        # @param proxy [Hash, nil] { url:, source: }
        def initialize(url:, url_step:, steps: [], without_sni: nil, sni_retry: nil, proxy: nil)
          @url = url
          @proxy = proxy
          @steps = [url_step] + steps.map { |s| present(s) }
          @without_sni = without_sni&.find { |s| s[:name] == "tls" }&.then { |s| present(s) }
          @sni_retry = sni_retry && { sni: sni_retry[:sni], steps: sni_retry[:steps].map { |s| present(s) } }
        end

        # @return [Hash, nil] the first step that failed
        def failed
          @steps.find { |s| !s[:ok] }
        end

        # @return [Integer]
        def exit_code
          ExitCodes.for_step(failed&.fetch(:name))
        end

        # @return [Hash, nil] a step of the main probe by name
        def step(name)
          @steps.find { |s| s[:name] == name }
        end

        # @return [Boolean, nil] true when clients without SNI fail where a handshake with a name
        #   gets further; false when they get as far as a certificate; nil when unknown
        def sni_required
          without = no_sni_attempt
          return nil unless without
          return false if reached_certificate?(without)
          return nil unless (SNI_TROUBLE + ["timeout"]).include?(without[:facts][:trouble])

          named = with_sni_attempt
          named && reached_certificate?(named) ? true : nil
        end

        # @return [Hash, nil] the TLS step of a handshake that sent SNI (main probe, else retry)
        def with_sni_attempt
          tls = step("tls")
          return tls if tls && tls[:facts][:sni]

          @sni_retry&.fetch(:steps)&.find { |s| s[:name] == "tls" }
        end

        # @return [String] one line
        def verdict
          bad = failed
          return "every step works (exit 0)." unless bad

          "FAILED at #{TITLES.fetch(bad[:name], bad[:name])} (exit #{exit_code})."
        end

        # @return [String, nil] what to do, when the step's own words do not say it already
        def fix
          bad = failed
          return nil unless bad
          return sni_fix if bad[:name] == "tls" && SNI_TROUBLE.include?(bad[:facts][:trouble])
          return untrusted_fix if bad[:name] == "tls" && bad[:error].to_s.include?("not trusted")

          nil
        end

        # @return [Hash] everything, JSON-ready
        def to_h
          {
            url: Masking.url(@url), ok: failed.nil?, exit_code: exit_code, failed_step: failed&.fetch(:name),
            verdict: verdict, error: failed&.fetch(:error), fix: fix,
            proxy: @proxy && { url: Masking.url(@proxy[:url]), source: @proxy[:source] },
            sni: sni_summary, steps: @steps, sni_retry: @sni_retry
          }
        end

        private

        def no_sni_attempt
          @without_sni || (no_sni_sent? ? step("tls") : nil)
        end

        def reached_certificate?(tls)
          tls[:ok] || tls[:facts][:trouble] == "certificate"
        end

        def no_sni_sent?
          tls = step("tls")
          tls && tls[:facts][:sni].nil?
        end

        def sni_summary
          tls = step("tls")
          return nil unless tls

          without = no_sni_attempt
          {
            sent: tls[:facts][:sni], required: sni_required,
            without_sni: without && { ok: without[:ok], trouble: without[:facts][:trouble], error: without[:error] }
          }
        end

        def sni_fix
          name = @sni_retry&.fetch(:sni)
          sent = step("tls")[:facts][:sni]
          if name && @sni_retry[:steps].all? { |s| s[:ok] }
            "The edge wants the site's name in SNI. With --sni #{name} every step works: use the host " \
              "name in the URL or pass tls: { sni_hostname: \"#{name}\" } to the client."
          elsif name && @sni_retry[:steps].find { |s| s[:name] == "tls" }&.fetch(:ok)
            "With --sni #{name} the TLS handshake works; see the retry below for the next problem."
          elsif sent.nil?
            "No SNI was sent because the URL host is an IP address, and this edge needs a name. Run again " \
              "with --sni NAME (the site's host name), or use the host name in the URL."
          else
            "The edge serves no site for the name #{sent}, or this port does not speak TLS. Check the host " \
              "name, or try --sni with the name the edge is configured for."
          end
        end

        def untrusted_fix
          "Pass --ca FILE with the CA that signed the server's certificate (in code: tls: { extra_ca_file: " \
            "\"ca.pem\" }, or ca_file: to trust only it), or have the server send its full chain."
        end

        # Masks secrets and reads certificates; the raw DER does not go into the report.
        def present(step)
          facts = step[:facts].dup
          facts[:request] = Masking.head(facts[:request]) if facts[:request]
          if facts[:headers]
            facts[:headers] = facts[:headers].map { |k, v| [k, Masking.header(k, v)] }
          end
          if facts[:chain]
            name = facts[:checked_name]
            facts[:chain] = facts[:chain].each_with_index.map do |der, i|
              Certificate.describe(der, name: i.zero? ? name : nil)
            end
          end
          step.merge(facts: facts)
        end
      end
    end
  end
end
