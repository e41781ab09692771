// A recording job run locally: a source (test pattern, file or URL) through
// lprecordbin into a root directory, until EOS, a time limit or a signal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace livepipe::replay {

struct RecordOptions {
  std::string source = "test";  // "test", a file path, or a URI GStreamer can open
  std::string root = ".";
  std::string stream = "recording";
  std::string location = "{stream}/seg-%05d.mp4";
  std::string format = "mp4";  // or "mkv"
  uint64_t segment_duration_ns = 60'000'000'000ull;
  uint64_t segment_size = 0;  // bytes, 0 = no limit
  unsigned fragment_ms = 500;
  uint64_t duration_ns = 0;  // stop after this much (0 = until EOS or a signal)
  unsigned test_bitrate_kbps = 2000;
};

struct RecordEvent {
  enum Kind { kStarted, kSegment, kProgress, kFinished, kError } kind = kProgress;
  std::string path;     // kSegment: the segment; kStarted/kFinished: the manifest
  std::string message;  // kError
  uint64_t start_ns = 0;
  uint64_t duration_ns = 0;
  uint64_t size = 0;
  bool discont = false;
  uint64_t elapsed_ns = 0;  // kProgress/kFinished: wall time since started
  uint64_t segments = 0;    // finished so far
  uint64_t bytes = 0;       // in finished segments
};

// Runs the job on the calling thread; returns 0 on success, 1 on a runtime
// error, 2 on invalid options (events say why).
int run_record(const RecordOptions &options,
               const std::function<void(const RecordEvent &)> &on_event);

}  // namespace livepipe::replay
