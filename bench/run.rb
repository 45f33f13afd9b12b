# frozen_string_literal: true

# `rake bench`: the gem against faye-websocket + EventMachine and a plain tokio-tungstenite client,
# all talking to the project's Rust echo peer, in one run. Prints one Markdown table. Every figure
# is the median of 3 runs, each in a fresh process; runs of the implementations are interleaved so
# a noisy machine hurts them alike. BENCH_FULL=1 runs longer and adds more rows.

require "open3"
require "rbconfig"
require "timeout"
require_relative "../spec/support/test_server"
require_relative "../spec/support/nginx"

module Bench
  ROOT = File.expand_path("..", __dir__)
  FULL = !ENV.fetch("BENCH_FULL", "").empty?
  SECONDS = FULL ? 3.0 : 1.0
  REPS = 3
  SIZES = { "32 B" => 32, "1 KiB" => 1024, "64 KiB" => 65_536, "1 MiB" => 1_048_576 }.freeze
  RTT_COUNT = FULL ? 10_000 : 2000
  IDLE_COUNTS = [1000, 5000].freeze
  BURST = 100
  PLAIN = File.join(File.dirname(Support::TestServer::BINARY), "ws-bench-client")
  COLUMNS = { "native" => "gem", "faye_layer" => "gem faye layer", "faye" => "faye 0.11 + EM",
              "plain" => "plain tokio-tungstenite" }.freeze

  module_function

  def faye?
    @faye = system(RbConfig.ruby, "-e", 'require "eventmachine"; require "faye/websocket"',
                   out: File::NULL, err: File::NULL) if @faye.nil?
    @faye
  end

  def impls(plain: true)
    list = %w[native faye_layer]
    list << "faye" if faye?
    list << "plain" if plain
    list
  end

  # A message window that keeps about 4 MiB in flight (at most 1000 messages).
  def window(size)
    (4 * 1024 * 1024 / size).clamp(4, 1000)
  end

  def run_one(impl, *args)
    command = if impl == "plain"
                [PLAIN, *args.map(&:to_s)]
              else
                env = impl == "native_logged" ? { "IMPL" => "native", "LOG" => "debug" } : { "IMPL" => impl }
                [env, RbConfig.ruby, "-I", File.join(ROOT, "lib"), File.join(__dir__, "client.rb"),
                 *args.map(&:to_s)]
              end
    out = nil
    Open3.popen2e(*command, pgroup: true) do |_in, io, wait|
      Timeout.timeout(120) { out = io.read }
      raise "#{impl} #{args.join(' ')} failed:\n#{out}" unless wait.value.success?
    rescue Timeout::Error
      Process.kill("KILL", -wait.pid)
      raise "#{impl} #{args.join(' ')} took over 120 s"
    end
    out.lines.last.to_s.scan(/(\w+)=([\d.]+)/).to_h { |k, v| [k.to_sym, v.to_f] }
  end

  def peer_pid
    @server.instance_variable_get(:@process).pid
  end

  def cpu_ticks(pid)
    fields = File.read("/proc/#{pid}/stat").split(") ").last.split
    fields[11].to_i + fields[12].to_i
  end

  def median(values)
    sorted = values.compact.sort
    sorted.empty? ? nil : sorted[sorted.size / 2]
  end

  # Runs every implementation REPS times, interleaved; returns { impl => [result, ...] }.
  def measure(list, *args)
    results = Hash.new { |h, k| h[k] = [] }
    REPS.times do
      list.each do |impl|
        before = cpu_ticks(peer_pid)
        begin
          result = run_one(impl, *args)
        rescue RuntimeError => e
          warn "bench: #{e.message.lines.first.chomp} (left out)"
          next
        end
        result[:peer_cpu] = (cpu_ticks(peer_pid) - before) / 100.0
        results[impl] << result
      end
    end
    results
  end

  def row(name, results, unit: "", digits: 0, higher_better: true, &value)
    figures = COLUMNS.keys.to_h { |impl| [impl, median((results[impl] || []).map(&value))] }
    ratio = lambda do |other|
      a = figures["native"]
      b = figures[other]
      next "" unless a && b && a.positive? && b.positive?

      format("%.2fx", higher_better ? a / b : b / a)
    end
    cells = COLUMNS.keys.map { |impl| figures[impl] ? "#{format("%.#{digits}f", figures[impl])}#{unit}" : "" }
    @rows << [name, *cells, ratio.("faye"), ratio.("plain"), @peer.to_s]
    warn "| #{@rows.last.join(' | ')} |" # progress, in case a long run is cut short
  end

  def pipelined
    SIZES.each do |label, size|
      results = measure(impls, "pipelined", @server.url("/bench"), size, window(size), SECONDS)
      @peer = peer_share(results["native"])
      row("pipelined #{label} (msg/s)", results) { |r| r[:messages] / r[:seconds] }
      @peer = ""
      row("CPU per message, #{label} (µs)", results, digits: 1, higher_better: false) do |r|
        r[:cpu] * 1e6 / r[:messages]
      end
    end
  end

  # The gem with and without a logger (at debug) in the same run: logging touches only the dial
  # steps, so the message path should not notice.
  def logging_cost
    results = measure(%w[native native_logged], "pipelined", @server.url("/bench"), 32, window(32), SECONDS)
    @peer = ""
    row("pipelined 32 B, no logger (msg/s)", results) { |r| r[:messages] / r[:seconds] }
    row("pipelined 32 B, logger at debug (msg/s)", { "native" => results["native_logged"] }) do |r|
      r[:messages] / r[:seconds]
    end
  end

  def peer_share(runs)
    share = median(runs.map { |r| r[:peer_cpu] / r[:seconds] })
    share ? format("%.0f%%", share * 100) : ""
  end

  def round_trips
    results = measure(impls, "rtt", @server.url("/bench"), 32, RTT_COUNT)
    @peer = ""
    row("round trip 32 B, p50 (µs)", results, higher_better: false) { |r| r[:p50_us] }
    row("round trip 32 B, p99 (µs)", results, higher_better: false) { |r| r[:p99_us] }
  end

  def idle
    schemes = [["ws", @server.url("/bench"), nil]]
    schemes << ["wss", @edge.url("/bench"), Support::PKI.instance.ca_file] if @edge
    schemes.each do |scheme, url, ca|
      IDLE_COUNTS.each do |count|
        results = measure(impls(plain: false), "idle", url, count, *ca)
        @peer = ""
        row("idle memory per connection, #{scheme} × #{count} (bytes)", results, higher_better: false) do |r|
          r[:bytes_per_conn]
        end
        row("open #{count} #{scheme} connections at once (s)", results, digits: 3, higher_better: false) do |r|
          r[:setup_s]
        end
        row("CPU while #{count} #{scheme} connections idle 2 s (ms)", results, digits: 1, higher_better: false) do |r|
          r[:idle_cpu_s] * 1000
        end
      end
    end
  end

  # What stays after large messages: the idle figure once 100 of 1000 connections echoed 1 MiB
  # each; then again with glibc told to map every block of 128 KiB or more (its dynamic threshold
  # otherwise keeps freed large blocks in the heap, for every implementation alike).
  def after_burst
    [["", nil], [", MALLOC_MMAP_THRESHOLD_=131072", "131072"]].each do |label, threshold|
      ENV["MALLOC_MMAP_THRESHOLD_"] = threshold
      results = measure(impls(plain: false), "burst", @server.url("/bench"), 1000, BURST)
      @peer = ""
      row("idle memory per connection, ws × 1000, after #{BURST} of them echo 1 MiB#{label} (bytes)", results,
          higher_better: false) { |r| r[:bytes_per_conn] }
    ensure
      ENV.delete("MALLOC_MMAP_THRESHOLD_")
    end
  end

  def print_table
    head = ["measure", *COLUMNS.values, "gem vs faye", "gem vs plain", "echo peer CPU (gem run)"]
    puts "| #{head.join(' | ')} |"
    puts "|#{head.map { '---' }.join('|')}|"
    @rows.each { |r| puts "| #{r.join(' | ')} |" }
  end

  def main
    Process.setrlimit(:NOFILE, Process.getrlimit(:NOFILE)[1]) # thousands of sockets, here and in the peers
    # The echo peer and the plain client (`rake bench` built them already; this is for a direct run).
    system("cargo", "build", "--release", "--locked", "-p", "websocket-native-testserver", chdir: ROOT, exception: true)
    @server = Support::TestServer.instance
    # nginx terminates TLS for the wss rows, as an edge in front of an app would.
    @edge = Support::Nginx.new(backend_port: @server.port, connections: 18_000) if File.executable?(Support::Nginx::BINARY)
    @rows = []
    @peer = ""
    warn "bench: #{FULL ? 'full' : 'short'} run (BENCH_FULL=1 for the full one); " \
         "#{faye? ? '' : 'faye-websocket + eventmachine not installed; '}#{Etc.nprocessors} cores"
    only = ENV.fetch("BENCH_ONLY", "pipelined,logging,rtt,idle,burst").split(",")
    pipelined if only.include?("pipelined")
    logging_cost if only.include?("logging")
    round_trips if only.include?("rtt")
    idle if only.include?("idle")
    after_burst if only.include?("burst")
    puts
    puts "Median of #{REPS} runs (#{SECONDS} s each for throughput); ratios from the same run; " \
         "`gem vs` > 1 means the gem is better. Echo peer CPU is the share of one core it used."
    puts
    print_table
  end
end

require "etc"
Bench.main if $PROGRAM_NAME == __FILE__
