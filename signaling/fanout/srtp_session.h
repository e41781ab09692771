// SRTP and SRTCP (RFC 3711, RFC 7714) for one viewer, on libsrtp2: what this
// side sends is protected with its own key, what the viewer sends (RTCP) is
// checked with the viewer's. Not thread-safe: the owner serialises calls.
#pragma once

#include "dtls.h"

#include <cstdint>
#include <string>

typedef struct srtp_ctx_t_ *srtp_t;

namespace livepipe::signaling::fanout {

// Bytes protect_*() may append to a packet; buffers need this much room.
inline constexpr size_t kSrtpMaxOverhead = 144 + 4;

class SrtpSession {
 public:
  SrtpSession() = default;
  ~SrtpSession();
  SrtpSession(const SrtpSession &) = delete;
  SrtpSession &operator=(const SrtpSession &) = delete;

  // False and `error` when libsrtp refuses the keys.
  bool start(const SrtpKeys &keys, std::string *error);
  bool ready() const { return outbound_ != nullptr; }

  // In place; `size` grows by the authentication tag (and SRTCP index).
  // `buffer` must have kSrtpMaxOverhead bytes of room after `size`.
  bool protect_rtp(uint8_t *buffer, int *size);
  bool protect_rtcp(uint8_t *buffer, int *size);
  // In place; false for a packet that fails authentication or is replayed.
  bool unprotect_rtcp(uint8_t *buffer, int *size);
  bool unprotect_rtp(uint8_t *buffer, int *size);

 private:
  srtp_t outbound_ = nullptr;
  srtp_t inbound_ = nullptr;
};

}  // namespace livepipe::signaling::fanout
