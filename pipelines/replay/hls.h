// A recording as HLS video on demand: fMP4 segments and an m3u8 playlist,
// cut from the recording's own fragments without re-muxing or re-encoding.
#pragma once

#include "recording.h"

#include <cstdint>
#include <string>

namespace livepipe::replay {

struct HlsOptions {
  std::string directory;  // created if missing; files are replaced
  std::string playlist = "index.m3u8";
  double target_duration = 4.0;  // seconds; segments start on keyframes
  Progress progress;
  Cancelled cancelled;
};

struct HlsResult {
  std::string playlist_path;
  size_t media_segments = 0;
  double duration_seconds = 0;
};

// Needs an MP4 recording (Matroska recordings are refused with a message).
bool make_hls(const Recording &recording, const HlsOptions &options, HlsResult *result,
              std::string *error);

}  // namespace livepipe::replay
