# frozen_string_literal: true

module WebSocket
  module Native
    module EventMachineShim
      # @param call [String] what site code called, e.g. "EM.connect"
      # @return [NotImplementedError] why the stand-in cannot do it, and how to get the real reactor
      def self.unsupported(call)
        NotImplementedError.new(
          "#{call} needs the real EventMachine's own sockets or processes, which the websocket-native " \
          "EventMachine stand-in does not have: require \"eventmachine\" before \"websocket/native/faye\" " \
          "(the drop-in then runs on the real reactor)"
        )
      end
    end
  end
end

# The parts of EventMachine that need its own sockets, processes or descriptors raise a
# NotImplementedError that says what to do, instead of a bare NoMethodError.
module EventMachine
  %i[
    connect bind_connect connect_unix_domain reconnect start_server start_unix_domain_server
    attach_server stop_server attach watch open_datagram_socket popen system open_keyboard
    watch_file watch_process enable_proxy disable_proxy fork_reactor
  ].each do |name|
    define_singleton_method(name) do |*|
      raise WebSocket::Native::EventMachineShim.unsupported("EM.#{name}")
    end
  end

  # Site code may subclass it; making a connection needs the real EventMachine.
  class Connection
    # @raise [NotImplementedError]
    def self.new(*)
      raise WebSocket::Native::EventMachineShim.unsupported("#{name}.new (an EM::Connection)")
    end
  end
end
