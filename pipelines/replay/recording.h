// A recording on disk as replay jobs see it: its manifest, with the segments
// a crash left open measured from their files.
#pragma once

#include "manifest.h"

#include <functional>
#include <optional>
#include <string>

namespace livepipe::replay {

struct Recording {
  std::string directory;  // the manifest's directory
  record::Manifest manifest;
  std::string segment_path(const record::SegmentEntry &segment) const;
};

// Loads `path` (a manifest file, or a directory holding manifest.json).
// Segments without a duration (the recorder was killed while writing them)
// get their duration and size from their fragments.
std::optional<Recording> load_recording(const std::string &path, std::string *error);

// Reports progress in [0, 1]; long jobs call it at least once a second.
using Progress = std::function<void(double fraction)>;
// Polled by long jobs (at least once a second); true stops the job, which
// then fails with the error "cancelled".
using Cancelled = std::function<bool()>;

}  // namespace livepipe::replay
