# frozen_string_literal: true

require "json"
require_relative "findings"

module WebSocket
  module Native
    module CLI
      # Prints {Findings} as text that fits an 80-column terminal, or as JSON.
      class DoctorReport
        WIDTH = 80
        INDENT = "       "
        ORDER = %w[url dns tcp proxy tls http websocket].freeze
        TROUBLE = { "name_rejected" => "alert unrecognized_name",
                    "hung_up" => "the server hung up after the ClientHello",
                    "timeout" => "the server never answered" }.freeze

        # @param findings [Findings]
        def initialize(findings)
          @f = findings
        end

        # @return [String]
        def to_json(*_args)
          JSON.pretty_generate(@f.to_h)
        end

        # @return [String]
        def to_text
          lines = wrap("websocket-native doctor #{VERSION}: #{@f.to_h[:url]}", "  ", first: "") + [""]
          shown = @f.steps.map { |s| s[:name] }
          @f.steps.each { |s| lines.concat(step_lines(s)) }
          unreached(shown).each { |name| lines << "[--]   #{Findings::TITLES[name]}: not reached" }
          lines.concat(retry_lines)
          lines << ""
          lines.concat(wrap("Verdict: #{@f.verdict}", "         ", first: ""))
          lines.concat(wrap("Fix: #{@f.fix}", "     ", first: "")) if @f.fix
          lines.join("\n")
        end

        private

        def unreached(shown)
          return [] unless @f.failed

          rest = ORDER - shown
          rest -= ["proxy"] unless @f.to_h[:proxy]
          rest -= ["tls"] unless @f.step("url")&.dig(:facts, :scheme) == "wss"
          rest
        end

        def step_lines(step)
          time = step[:ms] ? "  #{format_ms(step[:ms])}" : ""
          head = "#{step[:ok] ? '[ok]  ' : '[FAIL]'} #{Findings::TITLES.fetch(step[:name], step[:name])}#{time}"
          body = send(:"#{step[:name]}_lines", step[:facts]) if respond_to?(:"#{step[:name]}_lines", true)
          body = (step[:error] ? [step[:error]] : []) + Array(body)
          [head] + body.flat_map { |l| wrap(l, INDENT) }
        end

        def format_ms(ms)
          ms >= 100 ? "#{ms.round} ms" : "#{ms} ms"
        end

        def url_lines(f)
          return [] if f.empty?

          kind = f[:ip_literal] ? "an IP address: no SNI unless --sni" : "a name"
          ["#{f[:scheme]}://, host #{f[:host]} (#{kind}), port #{f[:port]}, path #{Masking.target(f[:resource])}"]
        end

        def dns_lines(f)
          what = f[:via_proxy] ? "proxy host " : ""
          return ["#{what}#{f[:host]} is an IP address: no lookup"] if f[:ip_literal]

          ["#{what}#{f[:host]}: #{Array(f[:addresses]).join(', ')}"] if f[:addresses]
        end

        def tcp_lines(f)
          Array(f[:attempts]).map { |a| "#{a[:address]}: #{a[:result]} (#{format_ms(a[:ms])})" }
        end

        def proxy_lines(f)
          proxy = @f.to_h[:proxy]
          source = proxy && proxy[:source] ? " (from #{proxy[:source]})" : ""
          lines = ["CONNECT #{f[:target]} via #{f[:proxy]}#{source}"]
          lines << "TLS to the proxy: #{f[:proxy_tls]}" if f[:proxy_tls]
          lines << "reply: #{f[:status_line]}" if f[:status_line]
          lines
        end

        def tls_lines(f)
          lines = [f[:sni] ? "SNI sent: #{f[:sni]}" : "SNI sent: none#{' (IP literal)' if f[:sni_enabled]}"]
          lines << "#{f[:version]}, #{f[:cipher]}, ALPN #{f[:alpn] || 'none'}" if f[:version]
          Array(f[:chain]).each_with_index { |c, i| lines.concat(certificate_lines(c, i)) }
          lines << trust_line(f)
          lines.concat(no_sni_lines)
          lines
        end

        def certificate_lines(cert, index)
          return ["certificate #{index + 1}: #{cert[:error]}"] if cert[:error]

          lines = ["certificate #{index + 1}: #{cert[:subject]}", "  issuer: #{cert[:issuer]}"]
          lines << "  names: #{cert[:names].join(', ')}" unless cert[:names].empty?
          left = cert[:days_left].negative? ? "EXPIRED #{-cert[:days_left]} days ago" : "#{cert[:days_left]} days left"
          lines << "  not after: #{cert[:not_after]} (#{left})"
          lines << "  matches the name: #{cert[:name_matches] ? 'yes' : 'NO'}" if cert.key?(:name_matches)
          lines
        end

        def trust_line(f)
          return "trust: not checked (--insecure)" unless f[:verify_peer]

          tls = @f.step("tls")
          verdict = if tls[:ok] then "trusted"
                    elsif f[:trouble] == "certificate" then "REJECTED (see error)"
                    else "not reached"
                    end
          "trust: #{verdict}; roots: #{f[:roots]}"
        end

        def no_sni_lines
          sni = @f.to_h[:sni]
          return [] unless sni && sni[:without_sni]

          case sni[:required]
          when true
            ["without SNI: the handshake fails (#{TROUBLE.fetch(sni[:without_sni][:trouble], 'error')}). This edge requires SNI: " \
             "clients that send no SNI (faye-websocket 0.10.4 and older) fail here with close 1006."]
          when false then ["without SNI: the server still answers; this edge does not require SNI."]
          else [no_sni_unknown(sni[:without_sni])]
          end
        end

        def no_sni_unknown(without)
          what = TROUBLE.fetch(without[:trouble].to_s) { without[:error] || "it fails" }
          if @f.with_sni_attempt
            "without SNI: the handshake fails (#{what}), as it does with SNI, so SNI is not what decides here."
          else
            "without SNI: the handshake fails (#{what}); run again with --sni NAME to see whether a name helps."
          end
        end

        def http_lines(f)
          lines = f[:request].to_s.split("\n").map { |l| "> #{l}" }
          lines << "< #{f[:status_line]}" if f[:status_line]
          lines.concat(Array(f[:headers]).map { |k, v| "< #{k}: #{v}" })
          lines
        end

        def websocket_lines(f)
          pings = Array(f[:ping_ms]).map { |ms| format_ms(ms) }
          line = "open; #{pings.size} ping#{'s' unless pings.size == 1}: #{pings.join(', ')}"
          line += "; closed #{f[:close_code]} #{f[:close_reason].inspect}" if f[:close_code]
          [line]
        end

        def retry_lines
          retried = @f.sni_retry
          return [] unless retried

          parts = retried[:steps].map do |s|
            "#{Findings::TITLES.fetch(s[:name], s[:name])} #{s[:ok] ? 'ok' : "FAILED: #{s[:error]}"}"
          end
          ["", "Retry with --sni #{retried[:sni]}:"] + wrap(parts.join(", "), INDENT)
        end

        # Word-wraps to WIDTH. Lines start with `indent` plus the text's own leading spaces (the
        # first with `first` if given); words longer than a line are cut.
        def wrap(text, indent, first: nil)
          indent += text[/\A */]
          room = WIDTH - indent.size
          lines = []
          line = nil
          text.strip.split(/ +/).flat_map { |w| w.scan(/.{1,#{room}}/) }.each do |piece|
            if line.nil? then line = piece
            elsif line.size + 1 + piece.size <= room then line = "#{line} #{piece}"
            else
              lines << line
              line = piece
            end
          end
          lines << line.to_s
          [(first || indent) + lines.first] + lines.drop(1).map { |l| indent + l }
        end
      end
    end
  end
end
