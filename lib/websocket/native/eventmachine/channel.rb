# frozen_string_literal: true

# EM::Channel: publish/subscribe on the reactor thread. Every item pushed goes to every subscriber.
module EventMachine
  # Subscribers are added, removed and called on the reactor thread, so any thread may use it.
  class Channel
    def initialize
      @subscribers = {}
      @last_id = 0
    end

    # @return [Integer] subscribers at the moment
    def num_subscribers
      @subscribers.size
    end

    # Calls the callback (see {EventMachine.Callback}) with each item pushed from now on.
    # @return [Integer] the id for {#unsubscribe}
    def subscribe(*args, &block)
      id = (@last_id += 1)
      EventMachine.schedule { @subscribers[id] = EventMachine.Callback(*args, &block) }
      id
    end

    # Stops calling the subscriber with this id.
    def unsubscribe(id)
      EventMachine.schedule { @subscribers.delete(id) }
    end

    # Hands each item to every subscriber, on the reactor thread.
    def push(*items)
      items = items.dup
      EventMachine.schedule { items.each { |item| @subscribers.values.each { |s| s.call(item) } } }
    end
    alias << push

    # Calls the callback with the next item pushed, once.
    def pop(*args, &block)
      code = EventMachine.Callback(*args, &block)
      EventMachine.schedule do
        id = subscribe do |*items|
          unsubscribe(id)
          code.call(*items)
        end
      end
    end
  end
end
