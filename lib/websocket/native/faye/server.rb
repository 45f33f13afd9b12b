# frozen_string_literal: true

module Faye
  # faye-websocket's server side (a WebSocket or EventSource served from Rack) is not part of this
  # client; each entry point says so and how to keep the real gem for a server.
  module ServerSide
    # @raise [NotImplementedError] naming the call
    def self.refuse(call)
      raise NotImplementedError,
            "#{call} serves a WebSocket from a Rack server, and websocket/native/faye is a client only. " \
            "faye-websocket cannot be loaded next to this drop-in, so to serve WebSockets in the same process " \
            "keep the real faye-websocket (require \"faye/websocket\") for the server and write the clients with " \
            "WebSocket::Native::Client (require \"websocket/native\") instead of the drop-in"
    end
  end

  class WebSocket
    # @raise [NotImplementedError] this drop-in has no server side
    def initialize(_env = nil, _protocols = nil, _options = {})
      ServerSide.refuse("Faye::WebSocket.new(env)")
    end

    # @raise [NotImplementedError] this drop-in has no server side
    def self.websocket?(_env)
      ServerSide.refuse("Faye::WebSocket.websocket?(env)")
    end

    # faye loads a Rack server's adapter (thin, rainbows, goliath) for its server side; a client
    # needs none, so this does nothing.
    # @return [nil]
    def self.load_adapter(_backend)
      nil
    end
  end

  # faye-websocket's EventSource (server side).
  class EventSource
    # @raise [NotImplementedError]
    def self.new(*)
      ServerSide.refuse("Faye::EventSource.new(env)")
    end

    # @raise [NotImplementedError]
    def self.eventsource?(_env)
      ServerSide.refuse("Faye::EventSource.eventsource?(env)")
    end
  end
end
