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

    # Opens, sends `text`, closes after the echo; returns the event log.
    def echo_once(url, text: "echo me", **options)
      record(url, **options) do |ws, event|
        ws.send(text) if event == [:open]
        ws.close if event.first == :message
      end.last
    end

    # A bare TCP server on 127.0.0.1 whose connections `handler` serves (for TLS-level faults);
    # yields its port and stops it afterwards.
    def with_tcp_server(handler)
      server = TCPServer.new("127.0.0.1", 0)
      thread = Thread.new { loop { handler.call(server.accept) } }
      yield server.addr[1]
    ensure
      thread&.kill
      server&.close
    end
  end
end
