# frozen_string_literal: true

module WebSocket
  module Native
    # Delays between reconnect attempts: exponential backoff with full jitter. Attempt n waits a
    # random time in [0, min(max, initial * 2**(n-1))], so a fleet of boxes that lost the same
    # server comes back spread over the whole window instead of all at once.
    class Backoff
      # @return [Float] the ceiling of the first attempt's delay, in seconds
      attr_reader :initial
      # @return [Float] the largest ceiling (the cap), in seconds
      attr_reader :max

      # @param initial [Numeric] seconds
      # @param max [Numeric] seconds, at least initial
      # @param random [Random] the source of jitter
      def initialize(initial:, max:, random: Random.new)
        @initial = initial.to_f
        @max = max.to_f
        @random = random
      end

      # @param attempt [Integer] 1 for the first attempt after a loss
      # @return [Float] the longest delay attempt number `attempt` may wait
      def ceiling(attempt)
        # Past 2**62 the cap has long been reached; the exponent is bounded so no Bignum is built.
        [@max, @initial * (2**[attempt - 1, 62].min)].min
      end

      # @param attempt [Integer]
      # @return [Float] a delay drawn uniformly from [0, ceiling(attempt)]
      def delay(attempt)
        @random.rand * ceiling(attempt)
      end

      # After a refusal that retrying soon cannot fix: between half the cap and the cap.
      # @return [Float]
      def refusal_delay
        @max * (0.5 + (@random.rand / 2))
      end
    end
  end
end
