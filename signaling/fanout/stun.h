// STUN (RFC 8489) as an ICE-lite agent (RFC 8445 section 2.5) needs it: read
// a Binding request, check its short-term credentials, and answer it. Pure
// code over byte buffers; no sockets.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::signaling::fanout {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderBytes = 20;

// RFC 7983: the first byte tells STUN (0-3), DTLS (20-63) and RTP/RTCP
// (128-191) apart on one socket.
enum class PacketKind { kStun, kDtls, kRtp, kUnknown };
PacketKind classify(const uint8_t *data, size_t size);

struct StunMessage {
  uint16_t type = 0;  // 0x0001: Binding request
  std::array<uint8_t, 12> transaction{};
  std::string username;
  bool has_integrity = false;
  size_t integrity_offset = 0;  // where MESSAGE-INTEGRITY starts in the packet
  bool has_fingerprint = false;
  bool use_candidate = false;
  bool ice_controlling = false;
  bool ice_controlled = false;
  uint32_t priority = 0;
  // Comprehension-required attributes this agent does not know (an error).
  std::vector<uint16_t> unknown_required;

  bool is_binding_request() const { return type == 0x0001; }
  bool is_binding_indication() const { return type == 0x0011; }
};

// Parses the header and every attribute, checking lengths and, when present,
// the FINGERPRINT. Returns nullopt and `error` for anything malformed.
std::optional<StunMessage> parse_stun(const uint8_t *data, size_t size, std::string *error);

// True when the packet's MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the ICE
// password) is valid.
bool check_integrity(const uint8_t *data, size_t size, const StunMessage &message,
                     std::string_view password);

// A Binding success response: XOR-MAPPED-ADDRESS of `from`,
// MESSAGE-INTEGRITY keyed with `password`, FINGERPRINT.
std::vector<uint8_t> binding_success(const std::array<uint8_t, 12> &transaction,
                                     const sockaddr_storage &from, std::string_view password);

// A Binding error response (400 Bad Request, 401 Unauthorized, 487 Role
// Conflict); `password` empty: without MESSAGE-INTEGRITY.
std::vector<uint8_t> binding_error(const std::array<uint8_t, 12> &transaction, int code,
                                   std::string_view reason, std::string_view password = {});

// CRC-32 (ISO 3309) as FINGERPRINT uses it.
uint32_t crc32(const uint8_t *data, size_t size);

}  // namespace livepipe::signaling::fanout
