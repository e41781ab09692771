// libFuzzer target: the RTMP destination URL check takes any bytes from the
// admin API; it must answer, never crash or read out of bounds.
#include "url.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string url(reinterpret_cast<const char *>(data), size);
  std::string why = livepipe::signaling::rtmp::check_rtmp_url(url);
  // An accepted URL has the scheme the sinks take.
  if (why.empty() && url.rfind("rtmp://", 0) != 0 && url.rfind("rtmps://", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
