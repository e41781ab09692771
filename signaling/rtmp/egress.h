// RTMP restreams of one stream: the stream's video and audio are made
// FLV-ready once (H.264 passes through, VP8 becomes H.264, Opus becomes AAC)
// in a tap attached to the stream's slots, and every destination is its own
// small pipeline (appsrc -> flvmux -> rtmp2sink) fed from that tap. A
// destination's appsrcs drop the oldest data when it falls behind, so a slow,
// dead or reconnecting destination never holds up the stream, its viewers or
// the other destinations. A failed destination retries with bounded
// exponential backoff and resumes on a key frame.
#pragma once

#include "pipeline.h"
#include "url.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace livepipe::signaling::rtmp {

struct EgressOptions {
  // Used only when the video is transcoded (VP8 -> H.264).
  int video_bitrate_kbps = 2500;
  int keyframe_interval_seconds = 2;
  int audio_bitrate = 128000;  // AAC, bit/s
  int audio_rate = 48000;      // 44100 or 48000
  int64_t backoff_initial_ms = 1000;
  int64_t backoff_max_ms = 30000;
  // A destination that has not started sending within this long is retried.
  int64_t connect_timeout_ms = 10000;
  // How much media a destination buffers before it drops the oldest.
  int64_t queue_ms = 2000;
};

// What the stream carries, as the publisher negotiated it.
struct StreamMedia {
  std::string video_codec;  // "H264", "VP8" or "" (no video)
  bool audio = false;       // Opus audio
};

struct DestinationInfo {
  std::string id;
  std::string url;    // as given; shown with its stream key
  std::string state;  // "connecting", "live" or "retrying"
  std::string last_error;
  int64_t next_attempt_unix_ms = 0;  // when retrying
  uint64_t bytes_sent = 0;           // FLV bytes handed to the RTMP connection, all attempts
  uint64_t attempts = 0;
};

class RtmpEgress {
 public:
  // `pipeline` is the stream's running pipeline; it must outlive this object.
  RtmpEgress(std::string stream, pipelines::Pipeline &pipeline, StreamMedia media,
             EgressOptions options);
  ~RtmpEgress();
  RtmpEgress(const RtmpEgress &) = delete;
  RtmpEgress &operator=(const RtmpEgress &) = delete;

  // Starts a destination; returns its id, or "" and `error`.
  std::string add(const std::string &url, std::string *error);
  bool remove(const std::string &id);
  std::vector<DestinationInfo> destinations() const;
  size_t size() const { return destinations_.size(); }
  bool transcodes_video() const { return media_.video_codec == "VP8"; }
  bool transcodes_audio() const { return media_.audio; }

 private:
  struct Hub;
  struct Destination;
  bool attach_tap(std::string *error);
  void detach_tap();

  std::string stream_;
  pipelines::Pipeline &pipeline_;
  StreamMedia media_;
  EgressOptions options_;
  std::shared_ptr<Hub> hub_;
  std::vector<std::pair<std::shared_ptr<pipelines::Slot>, pipelines::BranchPtr>> tap_;
  std::map<std::string, std::unique_ptr<Destination>> destinations_;
  unsigned next_id_ = 1;
};

}  // namespace livepipe::signaling::rtmp
