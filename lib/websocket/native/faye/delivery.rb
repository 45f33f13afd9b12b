# frozen_string_literal: true

module Faye
  class WebSocket
    # Carries the drop-in's events to the thread that runs callbacks. With the real EventMachine
    # running that is EM's thread, and everything queued since EM last took a batch goes over in
    # one scheduled block (one loop wake-up per batch, not one per message), in arrival order for
    # all clients. Otherwise events already arrive on the thread that runs callbacks.
    module Delivery
      @queue = []
      @lock = Mutex.new
      @scheduled = false
      @hooked = false

      class << self
        # Runs the block where callbacks run, after every block handed over before it.
        # @return [void]
        def call(&block)
          return block.call unless real_em_running?

          first = @lock.synchronize do
            @queue << block
            hook_shutdown
            !@scheduled && (@scheduled = true)
          end
          schedule_run if first
        end

        # @return [Boolean] true when the real EventMachine (not the stand-in) is running
        def real_em_running?
          EventMachine.respond_to?(:run_machine) && EventMachine.reactor_running?
        end

        private

        def run_queued
          batch = @lock.synchronize do
            @scheduled = false
            @queue.slice!(0..)
          end
          done = 0
          batch.each do |block|
            done += 1
            block.call
          end
        ensure
          requeue(batch.drop(done)) if batch && done < batch.size
        end

        # A block raised out of EM: the rest of its batch goes first in the next one, as the
        # blocks would have stayed in EM's own queue.
        def requeue(rest)
          first = @lock.synchronize do
            @queue.unshift(*rest)
            !@scheduled && (@scheduled = true)
          end
          schedule_run if first
        end

        # EM.stop may be tearing the loop down between `reactor_running?` and `next_tick`, which
        # then raises "eventmachine not initialized". EventMachine drops the blocks it still
        # held at that point, and so do we.
        def schedule_run
          EventMachine.next_tick { run_queued }
        rescue RuntimeError => e
          raise unless e.message.include?("not initialized")

          @lock.synchronize do
            @scheduled = false
            @queue.clear
          end
        end

        # EventMachine drops its queued blocks when its loop ends, and so do we (once per run).
        def hook_shutdown
          return if @hooked

          @hooked = true
          EventMachine.add_shutdown_hook do
            @lock.synchronize do
              @hooked = false
              @scheduled = false
              @queue.clear
            end
          end
        end
      end
    end
  end
end
