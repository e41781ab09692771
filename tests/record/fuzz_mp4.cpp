// libFuzzer target for the MP4 box reader: the fragment gate fed in pieces,
// the fragment index (replay, crash recovery) and the decode-time shift used
// when clips are joined. Reads stay inside the input; what the gate releases
// is always a prefix of whole boxes.
#include "mp4boxes.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace livepipe::record;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The gate, fed as a muxer would: a growing buffer drained by what it allows.
  FragmentGate gate;
  std::vector<uint8_t> pending;
  size_t step = size > 0 ? 1 + data[0] % 61 : 1;
  size_t released = 0;
  for (size_t fed = 0; fed < size;) {
    size_t n = std::min(step, size - fed);
    pending.insert(pending.end(), data + fed, data + fed + n);
    fed += n;
    gate.scan(pending.data(), pending.size());
    if (gate.invalid()) {
      break;
    }
    size_t writable = gate.writable();
    if (writable > pending.size()) {
      __builtin_trap();
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(writable));
    gate.consumed(writable);
    released += writable;
  }
  if (released > size) {
    __builtin_trap();
  }

  // The index, over exactly the input's bytes.
  auto read = [&](uint64_t offset, size_t length, std::vector<uint8_t> *out) {
    if (offset > size || length > size - offset) {
      return false;
    }
    out->assign(data + offset, data + offset + length);
    return true;
  };
  FragmentIndex index;
  std::string error;
  if (index_fragmented_mp4(read, size, &index, &error)) {
    if (index.complete_size > size || index.init_size > size) {
      __builtin_trap();
    }
    for (const auto &f : index.fragments) {
      if (f.offset > size || f.size > size - f.offset) {
        __builtin_trap();
      }
    }
    index.duration_seconds();
    // Shift the fragments as a clip would, on a copy.
    if (!index.fragments.empty()) {
      uint64_t begin = index.fragments.front().offset;
      std::vector<uint8_t> media(data + begin, data + index.complete_size);
      shift_decode_times(media.data(), media.size(), index.tracks, size * 1000003u);
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  std::vector<uint8_t> copy(data, data + size);
  std::vector<TrackInfo> tracks{{1, 90000, fourcc("vide"), 0, 0}, {2, 48000, fourcc("soun"), 0, 0}};
  shift_decode_times(copy.data(), copy.size(), tracks, 123456789);
  return 0;
}
