// Clips a time range of a recording into one MP4.
#pragma once

#include "recording.h"

#include <cstdint>
#include <string>

namespace livepipe::replay {

struct ClipOptions {
  uint64_t start_ns = 0;
  uint64_t end_ns = UINT64_MAX;  // clamped to the end of the recording
  // false: no re-encoding; the clip starts on the last keyframe at or before
  // start_ns (so it may begin up to one keyframe interval early).
  // true: the clip starts and ends exactly at the requested times; video is
  // decoded and re-encoded with x264 at the recording's bitrate and audio
  // re-encoded to AAC, both for the whole clip.
  bool accurate = false;
  // true: the first segment (a fragmented MP4) is read from the last
  // keyframe fragment some time before start_ns rather than from its
  // beginning; the clip is the same either way, only faster.
  bool skip_to_start = true;
  std::string output;  // the MP4 file to write
  Progress progress;
  Cancelled cancelled;
};

struct ClipResult {
  uint64_t start_ns = 0;  // where the clip really starts in the recording
  uint64_t duration_ns = 0;
  uint64_t video_frames = 0;
  uint64_t audio_packets = 0;
  // Where reading began in the recording: the first segment's start, or a
  // fragment of it before start_ns when the fragments before were skipped.
  uint64_t read_from_ns = 0;
};

bool clip_recording(const Recording &recording, const ClipOptions &options, ClipResult *result,
                    std::string *error);

}  // namespace livepipe::replay
