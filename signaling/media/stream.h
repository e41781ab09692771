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
  // Starts a stream whose source is in the description itself (an RTMP pull):
  // no publisher to answer; `media` says what its slots carry. It ends on the
  // pipeline's EOS or error, or when no media comes for the idle timeout.
  bool start_source(const OfferPlan &media, std::string *error);

  // Answers a viewer's offer; returns the viewer id ("" and `error` when the
  // viewer cannot be added).
  std::string add_viewer(const OfferPlan &plan, Answerer::Done done, std::string *error);
  bool add_viewer_candidate(const std::string &viewer, unsigned mline,
                            const std::string &candidate);
  bool remove_viewer(const std::string &viewer);
  // ICE restart of the publisher's or a viewer's session (icerestart.h).
  std::optional<IceParams> restart_publisher_ice(const IceParams &remote, std::string *error);
  std::optional<IceParams> restart_viewer_ice(const std::string &viewer, const IceParams &remote,
                                              std::string *error);

  // Ends the stream (idempotent); on_ended follows from the main context.
  void end(const std::string &reason);

  const std::string &name() const { return name_; }
  bool ended() const { return ended_; }
  // What viewers may ask for: the codecs of the stream's RTP for viewers (the
  // publisher's, unless the description encodes anew).
  std::vector<Codec> video_codecs() const;
  std::vector<Codec> audio_codecs() const;
  const OfferPlan &publisher_plan() const { return publisher_plan_; }
  size_t viewer_count() const { return viewers_.size(); }
  std::vector<ViewerInfo> viewers() const;
  uint64_t bytes_in() const { return bytes_in_.load(); }
  uint64_t packets_in() const { return packets_in_.load(); }
  int64_t started_unix() const { return started_unix_; }
  const std::string &publisher_state() const { return publisher_state_; }
  // Encoder elements in the stream's pipeline (the encode-once check).
  size_t encoder_count() const;
  // The running pipeline, for outputs that attach to its slots (RTMP
  // restreams); null before start().
  pipelines::Pipeline *pipeline() const { return pipeline_.get(); }
  // Element messages and warnings of the stream's pipeline (what its
  // elements report, e.g. lpmoderator's "livepipe-moderation"), on the main
  // context, for as long as the stream lives.
  void add_message_listener(std::function<void(GstMessage *message)> listener) {
    message_listeners_.push_back(std::move(listener));
  }
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
  // Asks the source for a key frame now, or schedules it (request_keyframe).
  void make_keyframe_request();
  // Notes when a key frame passes the video-rtp slot (last_keyframe_us_).
  void watch_keyframes();
  // What viewers get: the caps of the video-rtp slot's input when the
  // description fixes them (a processed stream), else the source's codec.
  void set_viewer_video_codecs();

  std::string name_;
  StreamOptions options_;
  ViewerTransportFactory &transports_;
  Events events_;
  std::unique_ptr<pipelines::Pipeline> pipeline_;
  std::unique_ptr<Answerer> publisher_;
  OfferPlan publisher_plan_;
  std::vector<Codec> viewer_video_codecs_;
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
  std::atomic<bool> keyframe_pending_{false};
  std::atomic<int64_t> last_keyframe_us_{0};
  std::atomic<int64_t> keyframe_wanted_us_{0};  // when a viewer last asked for one
  std::atomic<int> video_encoding_{0};          // of the video-rtp slot: 0 other, 1 H.264, 2 VP8
  struct Timer;
  std::unique_ptr<Timer> idle_timer_;
  std::shared_ptr<bool> alive_;
  GMainContext *context_ = nullptr;  // the main context the stream lives on
  std::vector<std::function<void(GstMessage *)>> message_listeners_;
  void tell_listeners(GstMessage *message);
};

}  // namespace livepipe::signaling::media
