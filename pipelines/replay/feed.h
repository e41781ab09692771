// Reads a recording's frames in order, segment after segment, on one
// timeline starting at 0: what a rebroadcast pushes into a live stream. No
// pacing here; the caller's `frame` callback may wait (it is called on the
// reader's streaming thread) and so sets the pace.
#pragma once

#include "recording.h"

#include <cstdint>
#include <functional>
#include <string>

namespace livepipe::replay {

struct FeedOptions {
  // The feed starts on the first video keyframe at or after start_ns (the
  // first audio frame there when the recording has no video) and stops
  // before end_ns (clamped to the end of the recording).
  uint64_t start_ns = 0;
  uint64_t end_ns = UINT64_MAX;
  // Each frame of the first video and the first audio stream, its PTS (and
  // DTS when set) on the feed's timeline. `caps` is set with the first frame
  // of each segment's stream (the codec configuration may change between
  // segments), null otherwise. Return false to stop the feed (it then fails
  // with `stop_reason`). Transfer none.
  std::function<bool(bool video, GstBuffer *buffer, GstCaps *caps)> frame;
  // Polled at least every 100 ms; true stops the feed with the error
  // "cancelled".
  Cancelled cancelled;
};

struct FeedResult {
  uint64_t video_frames = 0;
  uint64_t audio_frames = 0;
  uint64_t duration_ns = 0;  // the last frame's end on the feed's timeline
};

// Blocks until every frame of the range went to `frame` (true), or the feed
// failed or stopped (false and `error`). `stop_reason` is the error when
// `frame` returned false.
bool feed_recording(const Recording &recording, const FeedOptions &options, FeedResult *result,
                    std::string *error, const std::string &stop_reason = "stopped");

// An error message as "element: text", for the replay pipelines' failures.
std::string message_text(GstMessage *message);

}  // namespace livepipe::replay
