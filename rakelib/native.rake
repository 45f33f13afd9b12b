# frozen_string_literal: true

require "fileutils"
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
  BUILD_INPUTS = %r{\A(ext|testserver)/|\ACargo\.(toml|lock)\z}

  module_function

  # @return [Gem::Specification] the source spec made into a platform spec carrying +abis+
  def spec(source, abis)
    spec = source.dup
    spec.platform = Gem::Platform.new(PLATFORM)
    spec.extensions = []
    spec.files = source.files.grep_v(BUILD_INPUTS) + abis.map { |abi| library_path(abi) }
    versions = abis.sort_by { |v| v.split(".").map(&:to_i) }
    spec.required_ruby_version = [">= #{versions.first}", "< #{versions.last.succ}.dev"]
    spec
  end

  def library_path(abi)
    File.join("lib/websocket/native", abi, LIBRARY)
  end

  # Copies the gem's files into STAGE (the library stripped) and packs them into pkg/.
  def build(source, gem_file)
    FileUtils.rm_rf(STAGE)
    platform_spec = spec(source, [ABI])
    platform_spec.files.each do |file|
      from = file == library_path(ABI) ? BUILT : file
      FileUtils.mkdir_p(File.join(STAGE, File.dirname(file)))
      FileUtils.cp(from, File.join(STAGE, file))
    end
    strip(File.join(STAGE, library_path(ABI)))
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

source_spec = Gem::Specification.load(File.join(PlatformGem::ROOT, "native.gemspec"))
Gem::PackageTask.new(source_spec) do |pkg|
  pkg.need_tar = false
  pkg.need_zip = false
end

platform_gem = "pkg/#{source_spec.name}-#{source_spec.version}-#{PlatformGem::PLATFORM}.gem"

desc "Compile in release and add #{platform_gem} to `rake gem` (run: rake native gem)"
task "native:#{PlatformGem::PLATFORM}" => "compile" do
  file platform_gem => [PlatformGem::BUILT, *source_spec.files.grep_v(PlatformGem::BUILD_INPUTS)] do
    PlatformGem.build(source_spec, platform_gem)
  end
  task gem: platform_gem
end
task native: "native:#{PlatformGem::PLATFORM}"
