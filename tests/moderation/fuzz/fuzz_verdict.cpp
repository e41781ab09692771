// libFuzzer target for the hook reply parser: any bytes must give a verdict
// or an error message, never a crash, a leak or unbounded work.
#include "verdict.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace livepipe::moderation;
  Verdict verdict;
  std::string error;
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  if (parse_verdict(text, &verdict, &error)) {
    if (verdict.regions.size() > kMaxRegions || verdict.reason.size() > kMaxReasonBytes) {
      __builtin_trap();
    }
    for (const Region &r : verdict.regions) {
      if (r.x < 0 || r.y < 0 || r.w < 1 || r.h < 1) {
        __builtin_trap();
      }
    }
    if (verdict.expires_ms && (*verdict.expires_ms < 1 || *verdict.expires_ms > kMaxExpiresMs)) {
      __builtin_trap();
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}
