# frozen_string_literal: true

require "json"
require "rbconfig"
require "timeout"
require_relative "processes"
require_relative "timed_command"

module Support
  # kosoku (PyPI), a fuzzing server that serves Autobahn's client cases and writes Autobahn's
  # report (OUTDIR/index.json). Installed into a venv under tmp/ on first use.
  class FuzzingServer
    ROOT = File.expand_path("../..", __dir__)
    VENV = File.join(ROOT, "tmp", "autobahn-venv")
    PACKAGE = "kosoku==0.1.0" # pinned: the case set and verdicts are the ones recorded in DESIGN.md
    BINARY = File.join(VENV, "bin", "kosoku")

    # Creates the venv and installs kosoku unless it is there; raises with pip's words on failure.
    def self.install
      return if File.executable?(BINARY)

      run!(["python3", "-m", "venv", VENV], 120, "creating the venv (bin/setup installs python3-venv)")
      run!([File.join(VENV, "bin", "pip"), "install", "--quiet", PACKAGE], 300, "pip install #{PACKAGE}")
    end

    def self.run!(command, seconds, what)
      out, status = TimedCommand.capture(*command, seconds: seconds)
      raise "#{what} failed: #{out}" unless status.success?
    rescue SystemCallError => e
      raise "#{what} failed: #{e.message}"
    end
    private_class_method :run!

    attr_reader :port, :outdir

    # Starts serving the cases matching the globs (e.g. "1.*") on a free loopback port.
    def initialize(cases, outdir:)
      self.class.install
      @port = ServerProcess.free_port
      @outdir = outdir
      args = cases.flat_map { |c| ["-i", c] }
      @log = File.join(outdir, "kosoku.log")
      @pid = Process.spawn(BINARY, "-m", "fuzzingserver", "127.0.0.1:#{@port}", *args, "-o", outdir,
                           out: @log, err: @log, pgroup: true)
      ServerProcess.wait_for_port(@port)
    end

    # @return [String] ws://127.0.0.1:PORT
    def url
      "ws://127.0.0.1:#{@port}"
    end

    # Waits for the server to write its report and exit (it does after /updateReports).
    # @return [Hash{String => Hash}] case id => Autobahn's index entry
    def report(agent, seconds: 60)
      wait(seconds)
      JSON.parse(File.read(File.join(@outdir, "index.json"))).fetch(agent)
    rescue Errno::ENOENT, KeyError
      raise "the fuzzing server wrote no report for #{agent}: #{File.read(@log)}"
    end

    def stop
      return unless @pid

      Process.kill("KILL", -@pid)
      Process.wait(@pid)
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    ensure
      @pid = nil
    end

    private

    def wait(seconds)
      Timeout.timeout(seconds) { Process.wait(@pid) }
      @pid = nil
    rescue Timeout::Error
      stop
      raise "the fuzzing server did not finish its report within #{seconds} s: #{File.read(@log)}"
    end
  end
end
