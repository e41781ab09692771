// libFuzzer target for the trickle ICE fragment parser: any bytes must give
// either a fragment whose invariants hold or a reason, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sdpfrag.h"

using namespace livepipe::signaling::media;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto parsed = parse_sdpfrag(text);
  if (auto *why = std::get_if<std::string>(&parsed)) {
    // A refusal is shown to the client, so it must say something.
    if (why->empty()) {
      std::abort();
    }
    return 0;
  }
  const auto &frag = std::get<SdpFrag>(parsed);
  if (text.size() > kMaxSdpFragBytes || frag.ice_ufrag.empty() != frag.ice_pwd.empty() ||
      (frag.media.empty() && !frag.has_credentials())) {
    std::abort();
  }
  for (const auto &m : frag.media) {
    if (m.mid.size() > 64) {
      std::abort();
    }
    for (const auto &c : m.candidates) {
      if (c.rfind("candidate:", 0) != 0) {
        std::abort();
      }
    }
  }
  return 0;
}
