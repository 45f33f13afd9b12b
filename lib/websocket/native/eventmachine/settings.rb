# frozen_string_literal: true

# EventMachine's tuning calls. The stand-in has nothing to tune; it answers as EventMachine does
# on the same platform, so `EM.epoll if EM.epoll?` and the like run unchanged.
module EventMachine
  class << self
    # @return [Boolean] true on Linux, where the native core waits with epoll (through tokio)
    def epoll?
      RUBY_PLATFORM.include?("linux")
    end

    # @return [Boolean] true on the BSDs and macOS, where the native core waits with kqueue
    def kqueue?
      RUBY_PLATFORM.match?(/bsd|darwin/)
    end

    # Asks EventMachine for epoll: the native core already picks it where it exists.
    # @return [Boolean] whether it is available
    def epoll
      epoll?
    end

    # Asks EventMachine for kqueue: the native core already picks it where it exists.
    # @return [Boolean] whether it is available
    def kqueue
      kqueue?
    end

    # Accepted for EventMachine's `EM.epoll = true`; nothing to switch.
    def epoll=(value)
      value
    end

    # Accepted for EventMachine's `EM.kqueue = true`; nothing to switch.
    def kqueue=(value)
      value
    end

    # Accepted and ignored: the reactor has no fixed timer quantum.
    def set_quantum(*) = nil # rubocop:disable Naming/AccessorMethodName
  end
end
