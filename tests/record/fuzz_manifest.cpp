// libFuzzer target for the manifest loader: any text is either refused with
// a message or yields a manifest that writes out and reads back the same.
#include "manifest.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace livepipe::record;

namespace {

bool same(const Manifest &a, const Manifest &b) {
  if (a.format != b.format || a.stream != b.stream || a.state != b.state ||
      a.created != b.created || a.segments.size() != b.segments.size()) {
    return false;
  }
  for (size_t i = 0; i < a.segments.size(); ++i) {
    const auto &x = a.segments[i];
    const auto &y = b.segments[i];
    if (x.index != y.index || x.path != y.path || x.start_ns != y.start_ns ||
        x.duration_ns != y.duration_ns || x.size != y.size || x.wallclock != y.wallclock ||
        x.discont != y.discont || x.complete != y.complete) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::string error;
  auto manifest = manifest_from_json(text, &error);
  if (!manifest) {
    if (error.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  manifest->duration_ns();
  std::string again = manifest_to_json(*manifest);
  auto reread = manifest_from_json(again, &error);
  if (!reread || !same(*manifest, *reread)) {
    __builtin_trap();
  }
  return 0;
}
