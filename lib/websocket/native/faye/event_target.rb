# frozen_string_literal: true

module Faye
  class WebSocket
    module API
      # faye-websocket 0.11's EventTarget (with websocket-driver's EventEmitter under it), same
      # names, visibility and timing: listeners are attached on the reactor's next tick; an event
      # dispatched while its type has neither an `on<type>` handler nor a listener is kept, and the
      # kept events all go to the first listener or handler attached after them.
      #
      # Listeners are attached and events dispatched on the thread that runs callbacks (EM's with
      # the real EventMachine, else websocket-native's reactor), so the tables need no lock.
      module EventTarget
        %w[open message error close].each do |event_type|
          # Sets the one `on<type>` handler (next tick; it takes the kept events). It runs before
          # the listeners.
          define_method(:"on#{event_type}=") do |handler|
            on_callback_thread do
              flush(event_type, handler)
              instance_variable_set(:"@on#{event_type}", handler)
            end
          end

          # @return [#call, nil] the `on<type>` handler
          define_method(:"on#{event_type}") { instance_variable_get(:"@on#{event_type}") }
        end

        # @param event_type [String, Symbol]
        # @param callable [#call, nil] a Proc, lambda or Method; or give a block
        def on(event_type, callable = nil, &block)
          callable ? add_listener(event_type, callable) : add_listener(event_type, &block)
        end

        # Attaches a listener on the next tick.
        def add_listener(event_type, callable = nil, &block)
          listener = callable || block
          on_callback_thread do
            flush(event_type, listener)
            listener_table[event_type.to_s] << listener
          end
        end

        # DOM-style form: `add_event_listener("message", ->(e) { ... })`.
        def add_event_listener(event_type, listener, _use_capture = false)
          add_listener(event_type, &listener)
        end

        # Removes that one listener at once; with none given, removes nothing (as faye).
        # @return [#call, nil] the listener given
        def remove_listener(event_type, callable = nil, &block)
          listener = callable || block
          listener_table[event_type.to_s].delete(listener)
          listener
        end

        # DOM-style form; `remove_event_listener(type, nil)` removes nothing.
        def remove_event_listener(event_type, listener, _use_capture = false)
          remove_listener(event_type, &listener)
        end

        # Removes the listeners of one type, or of every type (not the `on<type>` handlers).
        def remove_all_listeners(event_type = nil)
          event_type ? listener_table.delete(event_type.to_s) : listener_table.clear
        end

        # Calls the listeners of this type with the arguments (not the `on<type>` handler; nothing
        # is kept).
        def emit(event_type, *args)
          listener_table[event_type.to_s].dup.each { |listener| listener.call(*args) }
        end

        # @return [Integer] listeners of this type (the `on<type>` handler not counted)
        def listener_count(event_type)
          listener_table.key?(event_type.to_s) ? listener_table[event_type.to_s].size : 0
        end

        # @return [Array] the listeners of this type (the list itself, as in faye)
        def listeners(event_type)
          listener_table[event_type.to_s]
        end

        # Delivers an event to the `on<type>` handler, then the listeners; kept when it has none.
        def dispatch_event(event)
          event.target = event.current_target = self
          event.event_phase = Event::AT_TARGET
          handler = instance_variable_get(:"@on#{event.type}")
          event_buffers[event.type] << event unless handler || listener_count(event.type).positive?
          handler&.call(event)
          emit(event.type, event)
        end

        private

        def listener_table
          @listener_table ||= Hash.new { |table, type| table[type] = [] }
        end

        def event_buffers
          @event_buffers ||= Hash.new { |buffers, type| buffers[type] = [] }
        end

        # Hands every kept event of this type to this listener.
        def flush(event_type, listener)
          return unless listener

          event_buffers.delete(event_type.to_s)&.each { |event| listener.call(event) }
        end

        # faye attaches on EventMachine's next tick; outside EM.run events are dispatched by
        # websocket-native's reactor, so the listener is attached there instead.
        def on_callback_thread(&block)
          if EventMachine.reactor_running?
            EventMachine.next_tick(&block)
          else
            ::WebSocket::Native::Reactor.instance.schedule(&block)
          end
        end
      end
    end
  end
end
