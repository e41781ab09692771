// A stream: one publisher's media run through a pipeline description once,
// fanned out to many viewers. The publisher's webrtcbin (the description's
// element "webrtc") is the source; each viewer is a ViewerTransport fed from
// the description's fan-out slots "video-rtp" and "audio-rtp", attached and
// detached while the stream plays.
#pragma once

#include "offer.h"
#include "pipeline.h"
#include "viewer.h"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace livepipe::signaling::media {

struct StreamOptions {
  std::filesystem::path description;
  std::vector<std::filesystem::path> include_dirs;
  std::map<std::string, std::string> params;
  guint gather_timeout_ms = 1500;
  // Torn down when no media has come from the publisher for this long.
  int64_t idle_timeout_seconds = 10;
  std::vector<std::string> ice_addresses;
};

struct ViewerInfo {
  std::string id;
  int64_t since_unix = 0;
  TransportStats sent;
};

class Stream {
 public:
  struct Events {
    // The stream has ended (publisher gone, idle, pipeline error, ended by
    // request); runs on the main context; the owner then destroys the stream.
    std::function<void(const std::string &reason)> on_ended;
    // A viewer's transport closed by itself.
    std::function<void(const std::string &viewer, const std::string &reason)> on_viewer_closed;
  };

  Stream(std::string name, StreamOptions options, ViewerTransportFactory &transports,
         Events events);
  ~Stream();
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;

  // Builds and starts the pipeline, then answers the publisher's offer.
  bool start(const OfferPlan &publisher, Answerer::Done done, std::string *error);
  void add_publisher_candidate(unsigned mline, const std::string &candidate);

  // Answers a viewer's offer; returns the viewer id ("" and `error` when the
  // viewer cannot be added).
  std::string add_viewer(const OfferPlan &plan, Answerer::Done done, std::string *error);
  bool add_viewer_candidate(const std::string &viewer, unsigned mline,
                            const std::string &candidate);
  bool remove_viewer(const std::string &viewer);

  // Ends the stream (idempotent); on_ended follows from the main context.
  void end(const std::string &reason);

  const std::string &name() const { return name_; }
  bool ended() const { return ended_; }
  // What viewers may ask for: the publisher's codecs.
  std::vector<Codec> video_codecs() const;
  std::vector<Codec> audio_codecs() const;
  const OfferPlan &publisher_plan() const { return publisher_plan_; }
  size_t viewer_count() const { return viewers_.size(); }
  std::vector<ViewerInfo> viewers() const;
  uint64_t bytes_in() const { return bytes_in_.load(); }
  uint64_t packets_in() const { return packets_in_.load(); }
  int64_t started_unix() const { return started_unix_; }
  const std::string &publisher_state() const { return publisher_state_; }
  // A slot of the running description (outputs beside viewers attach there),
  // or null.
  std::shared_ptr<pipelines::Slot> slot(const std::string &name) const {
    return pipeline_ ? pipeline_->slot_ptr(name) : nullptr;
  }

 private:
  struct Viewer;
  void on_publisher_state(const std::string &state);
  void on_pad_added(GstPad *pad);
  void request_keyframe();

  std::string name_;
  StreamOptions options_;
  ViewerTransportFactory &transports_;
  Events events_;
  std::unique_ptr<pipelines::Pipeline> pipeline_;
  std::unique_ptr<Answerer> publisher_;
  OfferPlan publisher_plan_;
  std::string publisher_state_ = "new";
  std::map<std::string, std::unique_ptr<Viewer>> viewers_;
  unsigned next_viewer_ = 1;
  bool ended_ = false;
  guint bus_watch_ = 0;
  gulong pad_added_ = 0;
  int64_t started_unix_ = 0;
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> packets_in_{0};
  std::atomic<int64_t> last_media_us_{0};
  std::atomic<int64_t> last_keyframe_request_us_{0};
  struct Timer;
  std::unique_ptr<Timer> idle_timer_;
  std::shared_ptr<bool> alive_;
};

}  // namespace livepipe::signaling::media
