# frozen_string_literal: true

require "rbconfig"

module WebSocketNative
  # What building from source needs, checked before anything is generated, so a box without it
  # fails in a second with one message instead of minutes into a build.
  class Toolchain
    LIBCLANG_NAMES = ["libclang.so", "libclang-*.so", "libclang.so.*", "libclang-*.so.*", "libclang.dylib"].freeze
    # The places clang-sys (rb-sys's bindgen) looks when LIBCLANG_PATH is unset.
    LIBCLANG_DIRS = ["/usr/local/llvm*/lib*", "/usr/local/lib*", "/usr/local/lib*/*", "/usr/lib*", "/usr/lib*/*",
                     "/usr/lib*/*/*", "/usr/lib/llvm-*/lib", "/usr/local/opt/llvm*/lib",
                     "/Library/Developer/CommandLineTools/usr/lib"].freeze

    # @return [String, nil] the cargo to run
    attr_reader :cargo

    def initialize(env = ENV)
      @env = env
      @cargo = find_cargo
    end

    # @return [Array<String>] one line per missing piece (empty when everything is there)
    def missing
      list = []
      list << "cargo (Rust's build tool): not on PATH, not in ~/.cargo/bin, CARGO not set" unless @cargo
      list << "a C compiler and linker (#{compiler}): not on PATH" unless executable(compiler)
      list << "Ruby's headers (ruby.h in #{RbConfig::CONFIG['rubyhdrdir']})" unless headers?
      list << "libclang (#{libclang_where})" unless libclang?
      list
    end

    # @return [String] the message for a box that lacks something
    def explain(missing)
      <<~TEXT
        websocket-native cannot be built from source on this machine; missing:
        #{missing.map { |m| "  - #{m}" }.join("\n")}
        On Debian or Ubuntu:
          sudo apt-get install -y gcc ruby-dev libclang-dev
          curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh   # cargo, Rust >= 1.85, via rustup
        No compiler needed on x86_64 Linux: a precompiled platform gem exists. `gem install websocket-native`
        picks it up there, or install websocket-native-<version>-x86_64-linux.gem with `gem install --local`.
      TEXT
    end

    private

    def find_cargo
      [@env["CARGO"], executable("cargo"), File.join(Dir.home, ".cargo", "bin", "cargo")].compact.find do |c|
        system(c, "--version", out: File::NULL, err: File::NULL)
      rescue SystemCallError
        false
      end
    end

    # rustc links with `cc` and rb-sys compiles a small C file with CC or `cc`.
    def compiler
      (@env["CC"] || "cc").split.first
    end

    def executable(name)
      return name if name.include?("/") && File.executable?(name)

      @env.fetch("PATH", "").split(File::PATH_SEPARATOR).map { |d| File.join(d, name) }
          .find { |p| File.file?(p) && File.executable?(p) }
    end

    def headers?
      File.file?(File.join(RbConfig::CONFIG["rubyhdrdir"].to_s, "ruby.h"))
    end

    # Mirrors clang-sys: LIBCLANG_PATH alone when set, else llvm-config's libdir and the usual places.
    def libclang?
      dirs = if @env["LIBCLANG_PATH"]
               path = @env["LIBCLANG_PATH"]
               return true if File.file?(path)

               [path]
             else
               [llvm_libdir, *@env.fetch("LD_LIBRARY_PATH", "").split(":"), *Dir[*LIBCLANG_DIRS]].compact
             end
      dirs.any? { |d| File.directory?(d) && !Dir[*LIBCLANG_NAMES.map { |n| File.join(d, n) }].empty? }
    end

    def libclang_where
      path = @env["LIBCLANG_PATH"]
      return "LIBCLANG_PATH=#{path} holds no libclang" if path

      "no libclang.so in llvm-config's libdir, /usr/lib* or /usr/local/lib*"
    end

    def llvm_libdir
      tool = executable("llvm-config") or return nil
      out = IO.popen([tool, "--libdir"], err: File::NULL, &:read)
      out.strip unless out.to_s.strip.empty?
    rescue SystemCallError
      nil
    end
  end
end
