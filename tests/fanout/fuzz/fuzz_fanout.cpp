// libFuzzer target for what the fan-out engine reads from the network before
// anything is authenticated: STUN messages (with their integrity check) and
// decrypted RTCP. Any bytes must give a message or a reason, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rtcp.h"
#include "stun.h"

using namespace livepipe::signaling::fanout;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  auto message = parse_stun(data, size, &error);
  if (!message && error.empty()) {
    std::abort();
  }
  if (message) {
    if (message->has_integrity && message->integrity_offset + 24 > size) {
      std::abort();
    }
    check_integrity(data, size, *message, "fuzzing-password-fuzzing");
  }
  RtcpFeedback feedback;
  error.clear();
  if (!parse_rtcp(data, size, &feedback, &error) && error.empty()) {
    std::abort();
  }
  if (feedback.nacks.size() > 1024) {
    std::abort();
  }
  return 0;
}
