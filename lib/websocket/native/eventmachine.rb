# frozen_string_literal: true

require_relative "../native"

# A small EventMachine for site code that used EM to drive faye-websocket, running on
# websocket-native's reactor: the reactor, timers, ticks, defer, Deferrable, Channel, Queue,
# Iterator and TickLoop. What needs EventMachine's own sockets or processes raises
# NotImplementedError. Loaded by websocket/native/faye when the real EventMachine is not loaded.
if defined?(EventMachine) && !defined?(WebSocket::Native::EventMachineShim)
  raise LoadError, "the real EventMachine is loaded; websocket/native/eventmachine is a stand-in " \
                   "for when it is not (websocket/native/faye uses the real one when present)"
end

module WebSocket
  module Native
    # Marks the stand-in so other code can tell it from the real EventMachine.
    module EventMachineShim; end
  end
end

require_relative "eventmachine/callback"
require_relative "eventmachine/reactor_loop"
require_relative "eventmachine/timers"
require_relative "eventmachine/defer"
require_relative "eventmachine/settings"
require_relative "eventmachine/deferrable"
require_relative "eventmachine/channel"
require_relative "eventmachine/queue"
require_relative "eventmachine/iterator"
require_relative "eventmachine/tick_loop"
require_relative "eventmachine/unsupported"

# A later `require "eventmachine"` (or of one of its parts) keeps this stand-in rather than
# loading a second EM over it: to use the real one, require it before websocket/native/faye.
%w[eventmachine.rb em/callback.rb em/timers.rb em/deferrable.rb em/channel.rb em/queue.rb
   em/iterator.rb em/tick_loop.rb].each do |feature|
  $LOADED_FEATURES << feature unless $LOADED_FEATURES.include?(feature)
end

EM = EventMachine unless defined?(EM)
