// A recording on disk as replay jobs see it: its manifest, with the segments
// a crash left open measured from their files.
#pragma once

#include "manifest.h"
#include "util/gstptr.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

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

// The caps of the first video and the first audio stream of one segment file
// (null when it has no such stream), read by prerolling a demuxer.
struct SegmentCaps {
  MiniPtr<GstCaps> video;
  MiniPtr<GstCaps> audio;
};
bool probe_segment(const std::string &path, const std::string &format, SegmentCaps *caps,
                   std::string *error);

// The segments that hold some of [start_ns, end_ns) of the recording, in order.
std::vector<const record::SegmentEntry *> segments_in_range(const Recording &recording,
                                                            uint64_t start_ns, uint64_t end_ns);

// Whether two segments' caps carry the same codec configuration: they agree on
// all but the frame rate, which the demuxer estimates from each segment's
// timestamps (jittery in a recording of a live WebRTC stream).
bool same_codec(GstCaps *a, GstCaps *b);

// Reports progress in [0, 1]; long jobs call it at least once a second.
using Progress = std::function<void(double fraction)>;
// Polled by long jobs (at least once a second); true stops the job, which
// then fails with the error "cancelled".
using Cancelled = std::function<bool()>;

}  // namespace livepipe::replay
