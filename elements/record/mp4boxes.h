// ISO BMFF (MP4) box reading for fragmented files: the gate that lets the
// recording sink write only whole fragments, and an index of a fragmented
// file's fragments for replay (HLS segmenting, durations after a crash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace livepipe::record {

constexpr uint32_t fourcc(const char (&code)[5]) {
  return (uint32_t(uint8_t(code[0])) << 24) | (uint32_t(uint8_t(code[1])) << 16) |
         (uint32_t(uint8_t(code[2])) << 8) | uint32_t(uint8_t(code[3]));
}

struct BoxHeader {
  uint64_t size = 0;  // whole box, header included
  uint32_t type = 0;
  uint32_t header_size = 0;  // 8, or 16 with a 64-bit size
};

enum class HeaderResult { kOk, kNeedMore, kInvalid };

// Reads the box header at data[0..available). A size of 0 ("to the end of the
// file") is reported as kInvalid: a growing recording never has one.
HeaderResult read_box_header(const uint8_t *data, size_t available, BoxHeader *header);

// Tracks top-level boxes in a byte stream that is appended to, and tells how
// much of it can be written so that the file on disk always ends after a
// whole `moov` or a whole `mdat`: after the header, or after a complete
// moof+mdat fragment, never inside one.
class FragmentGate {
 public:
  // Scans newly appended bytes; `data` is the whole pending buffer.
  void scan(const uint8_t *data, size_t size);
  // Bytes from the start of the pending buffer that may be written now.
  size_t writable() const { return writable_; }
  // The first `count` pending bytes were written and removed.
  void consumed(size_t count);
  // The stream is not a box sequence; the caller writes everything through.
  bool invalid() const { return invalid_; }
  // Complete mdat boxes seen so far.
  size_t fragments() const { return fragments_; }

 private:
  size_t fragments_ = 0;
  size_t cursor_ = 0;
  size_t writable_ = 0;
  bool invalid_ = false;
};

struct TrackInfo {
  uint32_t id = 0;
  uint32_t timescale = 0;
  uint32_t handler = 0;  // fourcc: 'vide', 'soun', ...
  uint32_t default_duration = 0;
  uint32_t default_flags = 0;
};

struct Fragment {
  uint64_t offset = 0;       // of the moof
  uint64_t size = 0;         // moof through the end of its mdat
  uint64_t decode_time = 0;  // of the reference track, in its timescale
  uint64_t duration = 0;     // of the reference track, in its timescale
  bool starts_with_keyframe = false;
};

struct FragmentIndex {
  uint64_t init_size = 0;  // ftyp + moov (everything before the first moof)
  std::vector<TrackInfo> tracks;
  uint32_t reference_track = 0;  // the video track, else the first track
  uint32_t timescale = 0;        // of the reference track
  std::vector<Fragment> fragments;
  uint64_t complete_size = 0;  // end of the last whole box; more is a torn tail
  double duration_seconds() const;
};

// Adds `offset_ns` (converted to each track's timescale) to the decode time
// (tfdt) of every track fragment in data[0..size), a run of moof+mdat boxes,
// in place. False when a box is malformed or a 32-bit tfdt would overflow.
bool shift_decode_times(uint8_t *data, size_t size, const std::vector<TrackInfo> &tracks,
                        uint64_t offset_ns);

// Reads `length` bytes at `offset` into `out`; false on a short read.
using ReadAt = std::function<bool(uint64_t offset, size_t length, std::vector<uint8_t> *out)>;

// Indexes a fragmented MP4 of `file_size` bytes. A torn tail (a fragment cut
// short by a crash) is left out of `fragments`, not an error.
bool index_fragmented_mp4(const ReadAt &read, uint64_t file_size, FragmentIndex *index,
                          std::string *error);
// The same over a file descriptor.
bool index_fragmented_mp4_fd(int fd, FragmentIndex *index, std::string *error);

}  // namespace livepipe::record
