# frozen_string_literal: true

require "io/wait"
require_relative "native/version"
require_relative "native/errors"
require_relative "native/locking"
require_relative "native/logging"
require_relative "native/loader"
require_relative "native/event"
require_relative "native/timers"
require_relative "native/options"
require_relative "native/listeners"
require_relative "native/backoff"
require_relative "native/reconnect_policy"
require_relative "native/outbox"
require_relative "native/reconnect"
require_relative "native/reactor"
require_relative "native/inbox"
require_relative "native/blocking"
require_relative "native/client"

module WebSocket
  # A WebSocket client with a Rust core: correct TLS (SNI, verified certificates) by default and
  # failures that say which step broke and why.
  module Native
    @warned = {}
    @reactor = Reactor.new
    Reactor.instance_variable_set(:@instance, @reactor)

    class << self
      # Makes the calling thread run callbacks until {.stop}. A block runs first, on that thread.
      # @return [void]
      def run(&block)
        @reactor.run(&block)
      end

      # Ends {.run} after the running callback; safe from any thread and from callbacks.
      # @return [void]
      def stop
        @reactor.stop
      end

      # @return [Boolean] true while a thread is inside {.run}
      def running?
        @reactor.running?
      end

      # Prints a warning once per process for each key.
      # @return [void]
      def warn_once(key, message)
        return if @warned[key]

        @warned[key] = true
        warn message
      end
    end

    # Children forked after this point get their own reactor state (see Reactor#after_fork) and,
    # at once, close their copies of the parent's connection sockets: a child that never uses
    # the gem (a Puma or Unicorn worker) would otherwise keep the parent's TCP flows open.
    module ForkHook
      # @return [Integer, nil]
      def _fork
        pid = super
        if pid.zero?
          Native.close_inherited_sockets
          Reactor.instance.after_fork
        end
        pid
      end
    end
    Process.singleton_class.prepend(ForkHook) if Process.respond_to?(:_fork)
  end
end
