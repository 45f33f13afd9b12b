# frozen_string_literal: true

desc "Benchmark the gem against faye-websocket + EventMachine and a plain tokio-tungstenite client " \
     "(BENCH_FULL=1 for the long run, BENCH_ONLY=pipelined,rtt,idle to pick)"
task bench: %i[compile testserver] do
  ruby File.expand_path("../bench/run.rb", __dir__)
end
