// The `recording` section of `livepipe serve`'s configuration
// (docs/configuration.md): where recordings, the catalog and job outputs
// live, which streams are recorded from their start, and the job limits.
#pragma once

#include <json-glib/json-glib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace livepipe::signaling {

struct RecordingSettings {
  // Data directory: catalog.sqlite, recordings/ and jobs/ below it. Empty:
  // recording and replay jobs are off.
  std::string dir;
  // Glob patterns (* and ?) of stream names recorded from the moment their
  // publisher connects.
  std::vector<std::string> streams;
  int64_t segment_seconds = 60;
  int64_t fragment_ms = 500;
  std::string format = "mp4";  // or "mkv"
  int64_t max_concurrent_jobs = 1;
  int64_t max_instant_replay_seconds = 600;

  bool enabled() const { return !dir.empty(); }
  bool records_from_start(const std::string &stream) const;
};

// Reads `object` (the member at `path`) into `settings`; each problem is
// appended as "PATH: what is wrong".
void read_recording_settings(JsonObject *object, const std::string &path,
                             RecordingSettings *settings, std::vector<std::string> *problems);

}  // namespace livepipe::signaling
