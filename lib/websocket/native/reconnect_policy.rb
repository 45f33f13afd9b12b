# frozen_string_literal: true

module WebSocket
  module Native
    # The `reconnect:` option of {Client#initialize}, checked: when to try again, how long to
    # wait, when to give up, and how much to hold for the next link. See the README's
    # "Unreliable links" for why the defaults suit a satellite link.
    class ReconnectPolicy
      DEFAULTS = {
        initial: 2, # ceiling of the first delay: a handover stall is bridged within 2 s
        max: 60, # the cap: a fleet returning after an outage spreads over a minute
        attempts: nil, # unattended boxes keep trying
        reset_after: 30, # a link must stay up this long before delays start small again
        queue_limit: 1024 * 1024, # bytes given to send while no link is open
        refused: :retry # :retry (after half the cap to the cap) or :give_up
      }.freeze
      REFUSALS = %i[retry give_up].freeze
      # An HTTP status that another attempt may well turn into a 101.
      PASSING_STATUS = [408, 429, *500..599].freeze

      # @param value [true, Hash, nil, false] the option as given
      # @return [ReconnectPolicy, nil] nil when reconnecting is off
      # @raise [ConfigurationError]
      def self.from_option(value)
        case value
        when nil, false then nil
        when true then new({})
        when Hash then new(value)
        else raise ConfigurationError, "reconnect must be true, false or a Hash (#{DEFAULTS.keys.join(', ')}), not #{value.inspect}"
        end
      end

      # @return [Backoff]
      attr_reader :backoff
      # @return [Float] seconds a link must stay open before the attempt count starts again
      attr_reader :reset_after
      # @return [Integer] bytes held while no link is open
      attr_reader :queue_limit

      # @param given [Hash]
      # @raise [ConfigurationError]
      def initialize(given)
        unknown = given.keys - DEFAULTS.keys
        fail!("unknown reconnect option #{unknown.map(&:inspect).join(', ')}; known are #{DEFAULTS.keys.join(', ')}") unless unknown.empty?
        options = DEFAULTS.merge(given)
        initial = seconds(options, :initial)
        max = seconds(options, :max)
        fail!("reconnect max (#{max}) must not be smaller than initial (#{initial})") if max < initial
        @backoff = Backoff.new(initial: initial, max: max)
        @reset_after = seconds(options, :reset_after)
        @attempts = options[:attempts]
        fail!("reconnect attempts must be a positive Integer or nil, not #{@attempts.inspect}") unless @attempts.nil? || (@attempts.is_a?(Integer) && @attempts.positive?)
        @queue_limit = options[:queue_limit]
        fail!("reconnect queue_limit must be an Integer number of bytes (0 refuses at once), not #{@queue_limit.inspect}") unless @queue_limit.is_a?(Integer) && @queue_limit >= 0
        @refused = options[:refused]
        fail!("reconnect refused must be :retry or :give_up, not #{@refused.inspect}") unless REFUSALS.include?(@refused)
      end

      # @param attempt [Integer] the attempt that would come next
      # @param error [Error, nil] the failure that ended the last link or attempt
      # @return [String, nil] why no further attempt is made, or nil to go on
      def give_up_reason(attempt, error)
        return "the server refused in a way retrying cannot fix (reconnect refused: :give_up)" if @refused == :give_up && refusal?(error)
        return "gave up after #{attempt - 1} attempt#{'s' if attempt > 2} (reconnect attempts: #{@attempts})" if @attempts && attempt > @attempts

        nil
      end

      # @return [Float] seconds to wait before attempt number `attempt`
      def delay(attempt, error)
        refusal?(error) ? @backoff.refusal_delay : @backoff.delay(attempt)
      end

      # A refusal is a failure that another attempt soon would meet again: an HTTP answer other
      # than 101 (except 408, 429 and 5xx), a 101 that breaks the handshake rules (accept key,
      # subprotocol, extensions), and a certificate or TLS alert. Timeouts and dropped
      # connections are not refusals.
      # @param error [Error, nil]
      # @return [Boolean]
      def refusal?(error)
        case error
        when HandshakeError
          status = error.message[/answered "HTTP\/\d(?:\.\d)? (\d{3})/, 1]
          status ? !PASSING_STATUS.include?(status.to_i) : error.message.include?("the 101 reply") || error.message.include?("which the client did not offer")
        when TLSError
          error.message.match?(/certificate|TLS alert|alert unrecognized_name|did not answer with TLS|share no TLS version/)
        else false
        end
      end

      private

      def fail!(message)
        raise ConfigurationError, message
      end

      def seconds(options, key)
        value = options[key]
        fail!("reconnect #{key} must be a number of seconds from 0.001 to one day, not #{value.inspect}") unless value.is_a?(Numeric) && value >= 0.001 && value <= 86_400

        value.to_f
      end
    end
  end
end
