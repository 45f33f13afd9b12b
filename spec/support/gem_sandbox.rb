# frozen_string_literal: true

require "fileutils"
require "rbconfig"

module Support
  # Runs gem, rake and ruby the way a site box would: outside bundler, never seeing the checkout,
  # optionally with a PATH that holds Ruby and nothing else. Every command has a deadline.
  module GemSandbox
    ROOT = File.expand_path("../..", __dir__)
    # Variables that would hand a child the checkout, bundler or our cargo target dir.
    HIDDEN_ENV = %w[RUBYOPT RUBYLIB BUNDLE_GEMFILE BUNDLE_BIN_PATH BUNDLER_SETUP BUNDLER_VERSION CARGO_TARGET_DIR]
                 .to_h { |k| [k, nil] }.freeze
    GEM = [File.join(RbConfig::CONFIG["bindir"], "gem"), "/usr/bin/gem"].find { |p| File.executable?(p) } || "gem"

    module_function

    # Runs +command+ outside bundler's environment; kills its process group after +timeout+ seconds.
    # @return [Array(String, Process::Status)] combined stdout and stderr, and the exit status
    def run(env, *command, timeout:, chdir: ROOT)
      unbundled do
        reader, writer = IO.pipe
        pid = Process.spawn(HIDDEN_ENV.merge(env), *command, chdir: chdir, out: writer, err: writer, pgroup: true)
        writer.close
        output = Thread.new { reader.read }
        status = wait(pid, timeout) { raise "#{command.join(' ')} timed out after #{timeout} s:\n#{output.value}" }
        [output.value, status]
      ensure
        reader&.close
      end
    end

    # A bin directory with links to ruby and gem only: no cargo, no cc, no llvm-config.
    # @return [Hash] env for a child that sees no toolchain (HOME without ~/.cargo, no libclang)
    def bare_env(dir)
      bin = File.join(dir, "bin")
      FileUtils.mkdir_p(bin)
      FileUtils.ln_sf(RbConfig.ruby, File.join(bin, "ruby"))
      FileUtils.ln_sf(File.realpath(GEM), File.join(bin, "gem"))
      { "PATH" => bin, "HOME" => dir, "CC" => nil, "CARGO" => nil, "LIBCLANG_PATH" => File.join(dir, "no-libclang"),
        "LD_LIBRARY_PATH" => nil }
    end

    # @return [Hash] env that finds cargo as a developer's shell does (rustup's ~/.cargo/bin)
    def toolchain_env
      { "PATH" => "#{File.join(Dir.home, '.cargo', 'bin')}#{File::PATH_SEPARATOR}#{ENV.fetch('PATH')}" }
    end

    # @return [Hash] env whose gem home is +gem_home+ alone
    def gem_env(gem_home)
      { "GEM_HOME" => gem_home, "GEM_PATH" => gem_home }
    end

    # @return [Array(String, Process::Status)]
    def install(gem_file, gem_home, env: {}, timeout: 1800)
      run(env.merge(gem_env(gem_home)), GEM, "install", "--local", "--no-document", gem_file,
          timeout: timeout, chdir: File.dirname(gem_file))
    end

    def unbundled(&block)
      defined?(Bundler) ? Bundler.with_unbundled_env(&block) : yield
    end

    def wait(pid, timeout)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        _, status = Process.wait2(pid, Process::WNOHANG)
        return status if status

        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          Process.kill("KILL", -pid)
          Process.wait(pid)
          yield
        end
        sleep 0.1
      end
    end
  end
end
