# frozen_string_literal: true

# Drives an Autobahn-compatible fuzzing server with WebSocket::Native::Client, through the gem's
# public API only: every text or binary message is echoed back as the same type.
#
#   ruby -Ilib spec/autobahn/client_driver.rb ws://127.0.0.1:9001 AGENT [PARALLEL]
#
# Protocol (Autobahn's): GET /getCaseCount, one /runCase?case=N&agent=A per case, then
# /updateReports?agent=A, which makes the server write its report.
require "websocket/native"

module AutobahnDriver
  module_function

  # Opens one connection to base + path; the block (if any) runs for each message; yields the
  # close event to `done`.
  def open(url, on_message: nil, &done)
    WebSocket::Native::Client.new(url) do |ws|
      ws.on(:message) { |e| on_message&.call(ws, e) }
      ws.on(:close) { |e| done.call(e) }
    end
  end

  # Runs every case, at most `parallel` at a time, and then asks for the report.
  def run(base, agent, parallel)
    count = nil
    queue = Thread::Queue.new
    open("#{base}/getCaseCount", on_message: ->(_ws, e) { count = Integer(e.data) }) { queue << :done }
    queue.pop
    raise "the fuzzing server sent no case count" unless count

    WebSocket::Native.run do
      next_case = 1
      running = 0
      start = lambda do
        while running < parallel && next_case <= count
          n = next_case
          next_case += 1
          running += 1
          open("#{base}/runCase?case=#{n}&agent=#{agent}", on_message: ->(ws, e) { ws.send(e.data) }) do
            running -= 1
            start.call
            WebSocket::Native.stop if running.zero? && next_case > count
          end
        end
      end
      count.zero? ? WebSocket::Native.stop : start.call
    end

    open("#{base}/updateReports?agent=#{agent}") { queue << :done }
    queue.pop
    count
  end
end

if $PROGRAM_NAME == __FILE__
  base, agent, parallel = ARGV
  abort "usage: #{$PROGRAM_NAME} ws://HOST:PORT AGENT [PARALLEL]" unless base && agent
  count = AutobahnDriver.run(base, agent, Integer(parallel || 1))
  puts "ran #{count} cases"
end
