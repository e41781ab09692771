// The manifest of a recording: its segments in order with their times, as
// JSON (docs/recording.md). The recorder rewrites it atomically whenever a
// segment opens or closes; replay tools read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::record {

struct SegmentEntry {
  uint64_t index = 0;
  std::string path;          // relative to the manifest's directory
  uint64_t start_ns = 0;     // position in the recording's timeline
  uint64_t duration_ns = 0;  // 0 while the segment is still being written
  uint64_t size = 0;         // bytes
  std::string wallclock;     // UTC time the segment opened, RFC 3339
  bool discont = false;      // opened because the input's timestamps jumped
  bool complete = false;     // closed normally (false: open, or cut by a crash)
};

struct Manifest {
  std::string format = "mp4";  // "mp4" or "mkv"
  std::string stream;
  std::string state = "recording";  // "recording" until the recorder stops: "finished"
  std::string created;
  std::vector<SegmentEntry> segments;
  // End of the last segment in the timeline (ns).
  uint64_t duration_ns() const;
};

std::string manifest_to_json(const Manifest &manifest);
// Parses and validates a manifest; segment paths must be relative paths that
// stay inside the manifest's directory tree.
std::optional<Manifest> manifest_from_json(std::string_view text, std::string *error);

// Now as RFC 3339 UTC with milliseconds.
std::string utc_now();

}  // namespace livepipe::record
