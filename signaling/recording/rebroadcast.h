// A recording played as a live stream in real time (a rebroadcast job): a
// source stream of the media service, so WHEP viewers, RTMP restreams and
// recording rules take it like any published stream. A thread reads the
// recording's segments (replay::feed_recording) into the appsrcs of a
// rebroadcast-* description, which paces them by the clock; the stream ends
// after the last frame. Created and driven from the main context.
#pragma once

#include "jobs.h"
#include "recording.h"
#include "service.h"

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace livepipe::signaling::recording {

struct RebroadcastOptions {
  std::string stream;                 // the live stream to create
  std::filesystem::path presets_dir;  // holds the rebroadcast-* descriptions
  uint64_t start_ns = 0;              // from the first keyframe at or after this
  uint64_t end_ns = UINT64_MAX;
};

class Rebroadcast {
 public:
  // Called on the main context once both the feed and the stream have ended:
  // ok when every frame was played, cancelled after cancel(), otherwise the
  // error (the recording could not be read, the stream ended early).
  using Finished = std::function<void(const JobOutcome &outcome)>;

  Rebroadcast(media::MediaService &media, Finished finished);
  // Stops the feed and waits for its thread (the stream, when still there,
  // is left to the media service to end).
  ~Rebroadcast();
  Rebroadcast(const Rebroadcast &) = delete;
  Rebroadcast &operator=(const Rebroadcast &) = delete;

  // Picks the description for the recording's codecs, creates the stream and
  // starts feeding it. False and `error` when the recording cannot be
  // rebroadcast (codecs, unreadable) or the stream cannot be created.
  bool start(const replay::Recording &recording, const RebroadcastOptions &options,
             std::string *error);
  const std::string &stream() const { return stream_; }
  // The part of the range played so far, in [0, 1].
  double progress() const;
  // Ends the stream; the job finishes as cancelled.
  void cancel();
  // The media service's ending hook for this stream: the feed stops.
  void stream_ending(const std::string &reason);

 private:
  struct Shared;
  void maybe_finish();

  media::MediaService &media_;
  Finished finished_;
  std::string stream_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool feed_done_ = false;
  bool stream_gone_ = false;
  bool cancelled_ = false;
  std::string stream_reason_;
  JobOutcome feed_outcome_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace livepipe::signaling::recording
