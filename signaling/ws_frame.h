// WebSocket framing (RFC 6455, section 5) for the server side: an incremental
// decoder of the frames clients send (masked, possibly fragmented, with
// control frames in between) and an encoder of the frames the server sends.
// Pure: no sockets, so every protocol error is unit-tested and fuzzed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace livepipe::signaling::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes the decoder reports (RFC 6455, section 7.4.1).
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseNoStatus = 1005;
constexpr uint16_t kCloseAbnormal = 1006;
constexpr uint16_t kCloseInvalidData = 1007;
constexpr uint16_t kCloseTooBig = 1009;

struct Event {
  enum class Kind {
    kText,    // a whole text message, valid UTF-8
    kBinary,  // a whole binary message
    kPing,
    kPong,
    kClose,  // the peer closes: code (kCloseNoStatus when it gave none) and reason
    kError,  // the stream broke the protocol: close with code, reason says why
  };
  Kind kind = Kind::kText;
  std::string payload;  // message, ping/pong data, or the close/error reason
  uint16_t code = 0;    // kClose and kError
};

class Decoder {
 public:
  // Messages (all fragments together) larger than max_message_bytes are an
  // error with kCloseTooBig, reported as soon as a frame header announces it.
  explicit Decoder(uint64_t max_message_bytes) : max_message_(max_message_bytes) {}

  // Appends bytes read from the connection.
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete event, or false when more bytes are needed. After a
  // kError or kClose event the decoder yields nothing more.
  bool next(Event *event);
  // Bytes fed but not yet decoded.
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  void compact();

  uint64_t max_message_;
  std::string buffer_;
  size_t offset_ = 0;
  bool fragmented_ = false;  // inside a message whose first frame had FIN=0
  Opcode message_opcode_ = Opcode::kText;
  std::string message_;
  bool done_ = false;
};

// An unmasked server frame with FIN set.
std::string encode(Opcode opcode, std::string_view payload);
// A close frame: code and a reason cut to fit a control frame (125 bytes).
std::string encode_close(uint16_t code, std::string_view reason);

// Codes a peer may send in a close frame (1005, 1006 and 1015 are reserved
// for reporting, 1004 and other unassigned ones below 3000 are invalid).
bool valid_close_code(uint16_t code);

}  // namespace livepipe::signaling::ws
