// libFuzzer target: the latency benchmark's stamp reader takes decoded
// pictures, whatever a decoder made of them; it must answer for any plane
// size and stride, never read outside the plane, and a value it reads must
// read back the same once drawn again.
#include "frame_stamp.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace livepipe::bench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 9) {
    return 0;
  }
  // Bytes 0-2: the plane's geometry (some planes smaller than the stamp).
  int width = 96 + data[0] % 96;
  int height = 96 + data[1] % 64;
  int stride = width + data[2] % 16;
  // Byte 3 odd: a stamp of the value in bytes 4-8 is drawn first and the rest
  // of the input is added to its pixels; even: the rest is the picture.
  bool stamped = data[3] & 1;
  uint64_t drawn = 0;
  std::memcpy(&drawn, data + 4, 5);
  data += 9;
  size -= 9;
  std::vector<uint8_t> plane(static_cast<size_t>(stride) * height, 0);
  if (stamped) {
    draw_stamp(plane.data(), stride, width, height, drawn);
  }
  for (size_t i = 0; size && i < plane.size(); ++i) {
    plane[i] = static_cast<uint8_t>(plane[i] + data[i % size]);
  }
  auto value = read_stamp(plane.data(), stride, width, height);
  if (stamped && size == 0 && width >= kStampWidth && height >= kStampHeight &&
      value != (drawn & kStampValueMask)) {
    __builtin_trap();
  }
  if (value &&
      (*value > kStampValueMask || !draw_stamp(plane.data(), stride, width, height, *value) ||
       read_stamp(plane.data(), stride, width, height) != value)) {
    __builtin_trap();
  }
  return 0;
}
