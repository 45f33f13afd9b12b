# frozen_string_literal: true

# EM::Deferrable: an object whose result arrives later; callbacks run when it succeeds, errbacks
# when it fails, each in the order added, with the arguments given to succeed / fail.
module EventMachine
  # Mixed into any class whose instances report success or failure later.
  module Deferrable
    # Runs the block on success (at once when already succeeded).
    # @return [self, nil] nil without a block
    def callback(&block)
      return unless block

      add_deferred(:succeeded, :failed, deferred_callbacks, block)
    end

    # Runs the block on failure (at once when already failed).
    # @return [self, nil] nil without a block
    def errback(&block)
      return unless block

      add_deferred(:failed, :succeeded, deferred_errbacks, block)
    end

    # @return [Proc, nil] the callback removed
    def cancel_callback(block)
      deferred_callbacks.delete(block)
    end

    # @return [Proc, nil] the errback removed
    def cancel_errback(block)
      deferred_errbacks.delete(block)
    end

    # Sets the status (:succeeded, :failed or anything else for "not yet") and runs the callbacks
    # or errbacks that wait for it. Cancels a {#timeout}.
    def set_deferred_status(status, *args)
      cancel_timeout
      @deferred_status = status
      @deferred_args = args
      case status
      when :succeeded then fire_deferred(deferred_callbacks, deferred_errbacks)
      when :failed then fire_deferred(deferred_errbacks, deferred_callbacks)
      end
    end

    # Fails with `args` unless the status is set within `seconds`.
    # @return [self]
    def timeout(seconds, *args)
      cancel_timeout
      @deferred_timeout = EventMachine::Timer.new(seconds) { fail(*args) }
      self
    end

    # Stops a {#timeout}.
    def cancel_timeout
      timer = @deferred_timeout
      @deferred_timeout = nil
      timer&.cancel
    end

    # Sets the status to :succeeded with these arguments.
    def succeed(*args)
      set_deferred_status(:succeeded, *args)
    end
    alias set_deferred_success succeed

    # Sets the status to :failed with these arguments.
    def fail(*args)
      set_deferred_status(:failed, *args)
    end
    alias set_deferred_failure fail

    private

    def deferred_callbacks
      @callbacks ||= []
    end

    def deferred_errbacks
      @errbacks ||= []
    end

    def add_deferred(now, never, list, block)
      @deferred_status ||= :unknown
      if @deferred_status == now
        block.call(*@deferred_args)
      elsif @deferred_status != never
        list << block
      end
      self
    end

    # Oldest first; one added while they run (status already set) runs at once instead.
    def fire_deferred(run, drop)
      while (block = run.shift)
        block.call(*@deferred_args)
      end
      drop.clear
    end
  end

  # A Deferrable and nothing else.
  class DefaultDeferrable
    include Deferrable
  end
end
