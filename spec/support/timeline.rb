# frozen_string_literal: true

require "timeout"

module Support
  # Records a client's events with their monotonic times, for specs that drive faults from the
  # spec thread while callbacks run on the background reactor.
  class Timeline
    def initialize
      @events = []
      @lock = Mutex.new
    end

    # Listens to every event of `ws` (native client or the faye layer's).
    # @return [ws]
    def attach(ws)
      ws.on(:open) { add(:open) }
      ws.on(:message) { |e| add(:message, e.data) }
      ws.on(:error) { |e| add(:error, e.message, e.error.class) }
      ws.on(:close) { |e| add(:close, e.code, e.reason, ws.ready_state) }
      ws.on(:reconnect) { |e| add(:reconnect, e.attempt, e.delay, e.error.class) }
      ws
    end

    # @return [Array<Array>] [time, type, *details] in arrival order
    def events
      @lock.synchronize { @events.dup }
    end

    # @return [Array<Array>] the events of one type
    def of(type)
      events.select { |e| e[1] == type }
    end

    # @return [Array<Symbol>] the event types in order (messages left out)
    def sequence
      events.map { |e| e[1] }.reject { |t| t == :message }
    end

    # @return [Array<String>] message payloads in order
    def messages
      of(:message).map { |e| e[2] }
    end

    # Waits until the block is true; fails the spec after `seconds`.
    def wait_for(seconds, what = "the expected events")
      deadline = WebSocket::Native.now + seconds
      until yield
        raise "#{what} did not happen within #{seconds} s; events: #{summary}" if WebSocket::Native.now > deadline

        sleep 0.02
      end
    end

    private

    def add(*event)
      @lock.synchronize { @events << [WebSocket::Native.now, *event] }
    end

    def summary
      events.reject { |e| e[1] == :message }.last(12).map { |e| e[1..].inspect }.join(", ")
    end
  end
end
