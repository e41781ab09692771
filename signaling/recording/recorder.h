// Records one running stream: an output beside the viewers. The stream's
// pipeline gets only an appsink per track on its RTP fan-out slots (like a
// viewer); depayloading and lprecordbin run in the recorder's own pipeline,
// so a failing disk ends the recording, never the stream or its viewers.
#pragma once

#include "recording_catalog.h"
#include "stream.h"

#include <functional>
#include <memory>
#include <string>

namespace livepipe::signaling::recording {

struct RecorderOptions {
  std::string root;       // the recordings root (lprecordbin's root)
  std::string directory;  // below the root: STREAM/ID
  std::string stream;
  std::string format = "mp4";  // "mkv" once started on a VP8 stream
  uint64_t segment_ns = 60'000'000'000ull;
  unsigned fragment_ms = 500;
};

class Recorder {
 public:
  struct Events {
    // A segment lprecordbin finished (with the manifest's details).
    std::function<void(const SegmentRow &segment)> on_segment;
    // The recording is closed: `error` is empty when it ended cleanly (stop
    // or end of the stream), otherwise why it failed. Runs once.
    std::function<void(const std::string &error)> on_finished;
  };

  Recorder(RecorderOptions options, Events events);
  ~Recorder();
  Recorder(const Recorder &) = delete;
  Recorder &operator=(const Recorder &) = delete;

  // Attaches to `stream`'s slots and starts recording.
  bool start(media::Stream &stream, std::string *error);
  // Detaches from the stream and finishes the open segment; on_finished follows.
  void stop();
  // The stream is going away: like stop(), without touching its slots.
  void stream_ending();

  const RecorderOptions &options() const { return options_; }
  // The manifest's path (absolute).
  std::string manifest_path() const;

 private:
  struct Impl;
  RecorderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::recording
