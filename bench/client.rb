# frozen_string_literal: true

# One benchmark run in a fresh process (so memory and CPU figures are its own). Prints one line of
# `key=value` pairs. Used by bench/run.rb; see `rake bench`.
#
#   IMPL=native|faye_layer|faye [LOG=debug] ruby bench/client.rb pipelined URL SIZE WINDOW SECONDS
#   IMPL=... ruby bench/client.rb rtt URL SIZE COUNT
#   IMPL=... ruby bench/client.rb idle URL COUNT [CA_FILE]
#   IMPL=... ruby bench/client.rb burst URL COUNT BURST   (idle, after BURST of them echo 1 MiB)

IMPL = ENV.fetch("IMPL")
case IMPL
when "faye" then require "eventmachine"; require "faye/websocket"
when "faye_layer" then require "websocket/native/faye"
when "native" then require "websocket/native"; require "logger"
else abort "IMPL must be native, faye_layer or faye"
end

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
def cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
def rss_kib = File.read("/proc/self/status")[/VmRSS:\s+(\d+)/, 1].to_i

# Runs the block inside the implementation's event loop; `finish` ends it.
def loop_run(&block)
  if IMPL == "native"
    WebSocket::Native.run(&block)
  else
    EM.run(&block)
  end
end

def finish
  $finished = true
  IMPL == "native" ? WebSocket::Native.stop : EM.stop
end

def client(url, ca_file = nil)
  if IMPL == "native"
    options = ca_file ? { tls: { ca_file: ca_file } } : {}
    # LOG=debug: a logger that takes every line, to show what logging costs on the message path.
    options[:logger] = Logger.new(File::NULL, level: ENV["LOG"]) if ENV["LOG"]
    WebSocket::Native::Client.new(url, nil, **options)
  else
    tls = ca_file ? { tls: { root_cert_file: ca_file } } : {}
    Faye::WebSocket::Client.new(url, nil, tls)
  end
end

def fail_on_error(ws)
  ws.on(:close) do |e|
    next if $finished

    warn "bench client: connection closed early (#{e.code} #{e.reason})"
    exit!(1)
  end
end

def pipelined(url, size, window, seconds)
  payload = ("x" * size).freeze
  received = 0
  started = cpu_start = until_t = nil
  loop_run do
    ws = client(url)
    fail_on_error(ws)
    ws.on(:open) do
      started = now
      cpu_start = cpu
      until_t = started + seconds
      window.times { ws.send(payload) }
    end
    ws.on(:message) do
      received += 1
      if now >= until_t
        finish
      else
        ws.send(payload)
      end
    end
  end
  puts "messages=#{received} seconds=#{format('%.6f', now - started)} cpu=#{format('%.6f', cpu - cpu_start)}"
end

def rtt(url, size, count)
  payload = ("x" * size).freeze
  times = []
  sent_at = nil
  loop_run do
    ws = client(url)
    fail_on_error(ws)
    ws.on(:open) do
      sent_at = now
      ws.send(payload)
    end
    ws.on(:message) do
      times << (now - sent_at) * 1e6
      if times.size >= count
        finish
      else
        sent_at = now
        ws.send(payload)
      end
    end
  end
  times.sort!
  pick = ->(q) { times[((times.size - 1) * q).round] }
  puts "p50_us=#{format('%.1f', pick.(0.5))} p99_us=#{format('%.1f', pick.(0.99))}"
end

# Opens one connection (libraries, runtime and buffers warm), then COUNT more at once: reports the
# time until all are open, RSS per added connection once idle, and CPU used while idle. With a
# BURST, that many of them first echo one 1 MiB message each: what is kept after large messages.
def idle(url, count, ca_file, burst = 0)
  limit = Process.getrlimit(:NOFILE)[1]
  Process.setrlimit(:NOFILE, limit)
  clients = []
  base = opened = started = setup = nil
  loop_run do
    first = client(url, ca_file)
    fail_on_error(first)
    first.on(:open) do
      GC.start
      base = rss_kib
      opened = 0
      started = now
      count.times do
        ws = client(url, ca_file)
        fail_on_error(ws)
        ws.on(:open) do
          opened += 1
          if opened == count
            setup = now - started
            burst.zero? ? finish : echo_burst(clients.first(burst))
          end
        end
        clients << ws
      end
    end
  end
  sleep 1 # let the last handshakes' buffers settle
  GC.start
  idle_cpu = cpu
  sleep 2
  idle_cpu = cpu - idle_cpu
  per = (rss_kib - base) * 1024.0 / count
  puts "setup_s=#{format('%.4f', setup)} bytes_per_conn=#{per.round} idle_cpu_s=#{format('%.4f', idle_cpu)}"
  $stdout.flush
  exit!(0) # no close handshakes for thousands of clients: the bench process just goes
end

def echo_burst(clients)
  echoed = 0
  clients.each { |ws| ws.on(:message) { finish if (echoed += 1) == clients.size } }
  send_to_each(clients, ("b" * (1024 * 1024)).freeze)
end

# Apart from echo_burst: a block keeps every local of the method that made it alive, and the
# handlers live as long as their connections; the 1 MiB payload must not (1 KiB per connection
# of the 1000 measured).
def send_to_each(clients, payload)
  clients.each { |ws| ws.send(payload) }
end

mode, url, *rest = ARGV
case mode
when "pipelined" then pipelined(url, Integer(rest[0]), Integer(rest[1]), Float(rest[2]))
when "rtt" then rtt(url, Integer(rest[0]), Integer(rest[1]))
when "idle" then idle(url, Integer(rest[0]), rest[1])
when "burst" then idle(url, Integer(rest[0]), nil, Integer(rest[1]))
else abort "usage: client.rb pipelined|rtt|idle|burst URL ..."
end
