# frozen_string_literal: true

require "timeout"

module Support
  # Runs a command to its end, or kills its process group when `seconds` pass.
  module TimedCommand
    module_function

    # @return [Array(String, Process::Status)] stdout and stderr together, and the exit status
    # @raise [RuntimeError] when the command is still running after `seconds` (it is killed)
    def capture(*command, seconds:, **spawn_options)
      reader, writer = IO.pipe
      pid = Process.spawn(*command, out: writer, err: writer, pgroup: true, **spawn_options)
      writer.close
      output = +""
      collector = Thread.new { output << reader.read }
      begin
        Timeout.timeout(seconds) { Process.wait(pid) }
      rescue Timeout::Error
        Process.kill("KILL", -pid)
        Process.wait(pid)
        collector.join(5)
        raise "#{command.join(' ')} did not finish within #{seconds} s and was killed; it printed: #{output}"
      end
      collector.join
      [output, $?]
    ensure
      reader&.close
    end
  end
end
