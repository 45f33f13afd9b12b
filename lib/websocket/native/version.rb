# frozen_string_literal: true

module WebSocket
  module Native
    VERSION = "0.1.0"
  end
end
