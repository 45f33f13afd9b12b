# frozen_string_literal: true

module WebSocket
  module Native
    # Mutex#synchronize that also works in a signal trap, where Ruby forbids locking a Mutex.
    # A trap runs between two steps of the main thread, so the block runs unlocked there; it is
    # told which case it is in. Only the lock attempt is rescued, never the block.
    # @yieldparam locked [Boolean] false inside a trap
    # @return the block's value
    def self.synchronize(mutex)
      begin
        mutex.lock
      rescue ThreadError => e
        raise unless e.message.include?("trap")

        return yield(false)
      end
      begin
        yield(true)
      ensure
        mutex.unlock
      end
    end
  end
end
