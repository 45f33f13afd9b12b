# frozen_string_literal: true

require "spec_helper"

RSpec.describe WebSocket::Native::Masking do
  it "drops credentials from URLs and masks token-like query values" do
    expect(described_class.url("wss://user:pw@app.example.com:8443/socket?access_token=abc&room=7&api_key=k"))
      .to eq("wss://app.example.com:8443/socket?access_token=***&room=7&api_key=***")
    expect(described_class.url("http://proxy.example:3128")).to eq("http://proxy.example:3128")
    expect(described_class.url("ws://h/p?sig=1&session=2&flag")).to eq("ws://h/p?sig=***&session=***&flag")
  end

  it "masks secret headers, keeping the scheme word" do
    expect(described_class.header("Authorization", "Bearer abc.def")).to eq("Bearer ***")
    expect(described_class.header("proxy-authorization", "Basic c2l0ZTpwYTU1")).to eq("Basic ***")
    expect(described_class.header("Cookie", "sid=1; theme=dark")).to eq("***")
    expect(described_class.header("Origin", "https://app.example.com")).to eq("https://app.example.com")
  end

  it "masks a request head line by line" do
    head = "GET /socket?token=t HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nCookie: a=b\r\n\r\n"
    expect(described_class.head(head))
      .to eq("GET /socket?token=*** HTTP/1.1\nHost: h\nAuthorization: Bearer ***\nCookie: ***")
  end
end
