# frozen_string_literal: true

# EventMachine's way of naming "something to call": a callable, an object and a method name, or a block.
module EventMachine
  # @param object [#call, Object, nil] a callable, or the receiver of `method`
  # @param method [Symbol, String, nil] sent to `object` with the call's arguments
  # @return [#call]
  # @raise [ArgumentError] when neither a callable nor a block is given
  def self.Callback(object = nil, method = nil, &block) # rubocop:disable Naming/MethodName
    return ->(*args) { object.__send__(method, *args) } if object && method
    return object if object.respond_to?(:call)

    block || raise(ArgumentError, "EM::Callback needs a callable, an object and a method name, or a block")
  end
end
