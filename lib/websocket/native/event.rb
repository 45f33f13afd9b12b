# frozen_string_literal: true

module WebSocket
  module Native
    # What a listener receives. Only the attributes that fit the event's type are set.
    class Event
      # @return [Symbol] :open, :message, :error, :close, :pong or :drain (room again under send_limit)
      attr_reader :type
      # @return [String, nil] a message's payload: UTF-8 for text frames, BINARY for binary frames
      attr_reader :data
      # @return [Integer, nil] the close code
      attr_reader :code
      # @return [String, nil] the close reason; on an abnormal close, the same words as the error
      attr_reader :reason
      # @return [String, nil] the error message
      attr_reader :message
      # @return [Error, nil] the exception behind an :error event
      attr_reader :error

      # @param type [Symbol]
      def initialize(type, data: nil, code: nil, reason: nil, was_clean: nil, message: nil, error: nil)
        @type = type
        @data = data
        @code = code
        @reason = reason
        @was_clean = was_clean
        @message = message
        @error = error
      end

      # A message event, built without a keyword Hash (one object per received message).
      # @api private
      def self.message(data)
        allocate.__send__(:message!, data)
      end

      # @return [Boolean, nil] true when the close handshake completed
      def was_clean
        @was_clean
      end
      alias clean? was_clean

      # @return [String]
      def inspect
        fields = { data: @data, code: @code, reason: @reason, was_clean: @was_clean, message: @message }
        shown = fields.reject { |_, v| v.nil? }.map { |k, v| "#{k}=#{v.inspect}" }
        "#<#{self.class.name} #{@type}#{shown.empty? ? '' : " #{shown.join(' ')}"}>"
      end

      private

      # Only the first two fields (the others read as nil): on Ruby 3.1 an object with at most
      # three instance variables keeps them inline, so a message event costs one object and no
      # separate allocation.
      def message!(data)
        @type = :message
        @data = data
        self
      end
    end
  end
end
