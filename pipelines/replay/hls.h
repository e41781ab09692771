// A recording as HLS video on demand: fMP4 segments and an m3u8 playlist.
// An MP4 recording of H.264 is cut from its own fragments without re-muxing
// or re-encoding; any other (VP8 in Matroska, as browsers' streams are
// recorded) is first transcoded once to H.264.
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

// A recording that is not MP4 of H.264 is transcoded to a fragmented MP4 of
// H.264 (x264 at the recording's bitrate, main profile, no B-frames, a
// keyframe every target duration; Opus and AAC audio copied, other audio to
// AAC) in the output directory, cut, and the transcoded file removed. Progress
// covers both; a cancellation stops the transcode at once.
bool make_hls(const Recording &recording, const HlsOptions &options, HlsResult *result,
              std::string *error);

}  // namespace livepipe::replay
