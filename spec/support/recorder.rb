# frozen_string_literal: true

require "timeout"

module Support
  # Runs one client under WebSocket::Native.run and records every event until its close.
  module Recorder
    # @return [Array(Client, Array)] the client and its events:
    #   [:open], [:message, data], [:error, message, error_class], [:close, code, reason, clean]
    def record(url, protocols = nil, limit: 20, **options, &on_event)
      log = []
      client = WebSocket::Native::Client.new(url, protocols, **options) do |ws|
        ws.on(:open) { log << [:open]; on_event&.call(ws, log.last, log) }
        ws.on(:message) { |e| log << [:message, e.data]; on_event&.call(ws, log.last, log) }
        ws.on(:error) { |e| log << [:error, e.message, e.error.class] }
        ws.on(:close) do |e|
          log << [:close, e.code, e.reason, e.was_clean]
          WebSocket::Native.stop
        end
      end
      Timeout.timeout(limit) { WebSocket::Native.run }
      [client, log]
    end

    def events_of(log, type)
      log.select { |e| e.first == type }
    end
  end
end
