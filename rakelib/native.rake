# frozen_string_literal: true

require "fileutils"
require "rake/clean"
require "rbconfig"
require "rubygems/package"
require "rubygems/package_task"

# `rake gem` packs the source gem; `rake native gem` also packs the platform gem for this machine
# (pkg/websocket-native-VERSION-x86_64-linux.gem): the stripped library under
# lib/websocket/native/<Ruby ABI>/, the Ruby code and docs; no Rust sources, test server or build dirs.
module PlatformGem
  ROOT = File.expand_path("..", __dir__)
  PLATFORM = Gem::Platform.local.to_s
  ABI = RUBY_VERSION[/\A\d+\.\d+/]
  LIBRARY = "websocket_native.#{RbConfig::CONFIG['DLEXT']}".freeze
  BUILT = File.join("lib/websocket", LIBRARY) # where `rake compile` puts it
  STAGE = File.join("tmp", PLATFORM, "platform-gem")
  STASH = File.join("tmp", PLATFORM, "abi")
  BUILD_INPUTS = %r{\A(ext|testserver)/|\ACargo\.(toml|lock)\z}

  module_function

  # @return [Gem::Specification] the source spec made into a platform spec carrying +abis+
  def spec(source, abis)
    spec = source.dup
    spec.platform = Gem::Platform.new(PLATFORM)
    spec.extensions = []
    spec.files = source.files.grep_v(BUILD_INPUTS) + abis.map { |abi| library_path(abi) }
    versions = abis.sort_by { |v| v.split(".").map(&:to_i) }
    # A requirement is one range: a gap (3.1 and 3.3 without 3.2) would admit an ABI not carried.
    gap = versions.each_cons(2).find { |a, b| a.succ != b && a.split(".").first == b.split(".").first }
    abort "The platform gem's ABIs must not skip a Ruby release: #{gap.join(' then ')}." if gap
    spec.required_ruby_version = [">= #{versions.first}", "< #{versions.last.succ}.dev"]
    spec
  end

  def library_path(abi)
    File.join("lib/websocket/native", abi, LIBRARY)
  end

  # Keeps this Ruby's library per ABI, so one gem can carry the libraries of several Rubies
  # (WEBSOCKET_NATIVE_ABIS=3.1,3.2, after `rake native` ran under each of them).
  def stash
    path = File.join(STASH, ABI, LIBRARY)
    FileUtils.mkdir_p(File.dirname(path))
    FileUtils.cp(BUILT, path)
    strip(path)
  end

  # @return [Array<String>] the ABIs the gem is to carry, each with a stashed library
  def abis
    wanted = ENV.fetch("WEBSOCKET_NATIVE_ABIS", ABI).split(",").map(&:strip)
    missing = wanted.reject { |abi| File.file?(File.join(STASH, abi, LIBRARY)) }
    return wanted if missing.empty?

    abort "No library for Ruby #{missing.join(', ')} in #{STASH}: run `rake native` under that Ruby first."
  end

  # Copies the gem's files into STAGE and packs them into pkg/.
  def build(source, gem_file)
    FileUtils.rm_rf(STAGE)
    carried = abis
    platform_spec = spec(source, carried)
    platform_spec.files.each do |file|
      abi = carried.find { |a| file == library_path(a) }
      FileUtils.mkdir_p(File.join(STAGE, File.dirname(file)))
      FileUtils.cp(abi ? File.join(STASH, abi, LIBRARY) : file, File.join(STAGE, file))
    end
    FileUtils.mkdir_p(File.dirname(gem_file))
    built = Dir.chdir(STAGE) { Gem::Package.build(platform_spec) }
    FileUtils.mv(File.join(STAGE, built), gem_file)
  end

  # Cargo's release profile already strips; this also covers WEBSOCKET_NATIVE_PROFILE=debug builds.
  def strip(path)
    command = RbConfig::CONFIG["STRIP"].to_s.split
    system(*command, path, exception: true) unless command.empty?
  end
end

CLEAN.include(PlatformGem::STAGE, PlatformGem::STASH)

source_spec = Gem::Specification.load(File.join(PlatformGem::ROOT, "native.gemspec"))
Gem::PackageTask.new(source_spec) do |pkg|
  pkg.need_tar = false
  pkg.need_zip = false
end

# Inside rb-sys-dock / rake-compiler-dock, rake-compiler's cross tasks (rakelib/compile.rake) build it.
unless ENV["RUBY_CC_VERSION"]
  platform_gem = "pkg/#{source_spec.name}-#{source_spec.version}-#{PlatformGem::PLATFORM}.gem"

  desc "Compile in release and add #{platform_gem} to `rake gem` (run: rake native gem)"
  task "native:#{PlatformGem::PLATFORM}" => "compile" do
    PlatformGem.stash
    # Always repacked: cheap next to the compile, and the carried ABIs may differ from the last run.
    task(platform_gem) { PlatformGem.build(source_spec, platform_gem) }
    task gem: platform_gem
  end
  task native: "native:#{PlatformGem::PLATFORM}"
end
