#include "egress.h"

#include "util/maincontext.h"

#include <gst/app/app.h>
#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace livepipe::signaling::rtmp {
namespace {

// Asking the publisher (or the transcoder) for key frames more often than
// this helps nobody: several destinations starting together share one.
constexpr int64_t kKeyframeRequestGapUs = 500 * 1000;
// A connection that stayed up this long was healthy: its next failure starts
// the backoff again from the beginning.
constexpr int64_t kHealthyAfterUs = 10 * G_USEC_PER_SEC;

int64_t now_unix_ms() {
  return g_get_real_time() / 1000;
}

}  // namespace

// One attempt at one destination: its own pipeline, fed from the tap's
// streaming threads. Everything the streaming threads touch is under `mutex`
// or atomic.
struct Output {
  GstPtr<GstElement> pipeline;
  GstPtr<GstElement> video;  // appsrc, null without video
  GstPtr<GstElement> audio;  // appsrc, null without audio
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> buffers{0};
  std::atomic<uint64_t> queued{0};  // buffers handed to the appsrcs
  std::mutex mutex;
  bool waiting_keyframe = true;
  GstClockTime base = GST_CLOCK_TIME_NONE;
  MiniPtr<GstCaps> video_caps;
  MiniPtr<GstCaps> audio_caps;

  // Rebases the stream's running times so the FLV starts at 0 on a key
  // frame.
  void push(bool is_video, GstBuffer *buffer, GstCaps *caps, GstClockTime pts, GstClockTime dts) {
    GstElement *src = is_video ? video.get() : audio.get();
    if (!src) {
      return;
    }
    GstClockTime when = GST_CLOCK_TIME_IS_VALID(dts) ? dts : pts;
    if (!GST_CLOCK_TIME_IS_VALID(when)) {
      return;
    }
    std::lock_guard lock(mutex);
    if (is_video && waiting_keyframe) {
      if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT)) {
        return;
      }
      waiting_keyframe = false;
      if (!GST_CLOCK_TIME_IS_VALID(base)) {
        base = when;
      }
    }
    if (!is_video && !video && !GST_CLOCK_TIME_IS_VALID(base)) {
      base = when;
    }
    if (!GST_CLOCK_TIME_IS_VALID(base) || when < base) {
      return;
    }
    MiniPtr<GstCaps> &last = is_video ? video_caps : audio_caps;
    if (caps && (!last || !gst_caps_is_equal(last.get(), caps))) {
      last = ref_mini(caps);
      gst_app_src_set_caps(GST_APP_SRC(src), caps);
    }
    GstBuffer *copy = gst_buffer_copy(buffer);
    if (GST_CLOCK_TIME_IS_VALID(pts)) {
      GST_BUFFER_PTS(copy) = pts >= base ? pts - base : 0;
    }
    if (GST_CLOCK_TIME_IS_VALID(dts)) {
      GST_BUFFER_DTS(copy) = dts - base;
    }
    // Never blocks: a full queue drops its oldest buffers (leaky-type).
    gst_app_src_push_buffer(GST_APP_SRC(src), copy);
    queued.fetch_add(1, std::memory_order_relaxed);
  }
};

// Shared by the tap's appsinks and the destinations: who gets the stream's
// buffers, and how to ask for a key frame.
struct RtmpEgress::Hub {
  std::mutex mutex;
  std::vector<std::shared_ptr<Output>> outputs;
  GstPtr<GstPad> video_pad;  // the tap's video appsink pad, for key frame requests
  std::atomic<int64_t> last_keyframe_request_us{0};

  void push(bool is_video, GstSample *sample) {
    GstBuffer *buffer = gst_sample_get_buffer(sample);
    GstCaps *caps = gst_sample_get_caps(sample);
    const GstSegment *segment = gst_sample_get_segment(sample);
    if (!buffer || !segment) {
      return;
    }
    // Running times: x264enc, for one, shifts its timestamps by 1000 hours
    // in its segment, so raw timestamps of audio and video do not compare.
    GstClockTime pts =
        gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    GstClockTime dts =
        gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_DTS(buffer));
    std::lock_guard lock(mutex);
    for (const auto &output : outputs) {
      output->push(is_video, buffer, caps, pts, dts);
    }
  }
  void add(const std::shared_ptr<Output> &output) {
    std::lock_guard lock(mutex);
    outputs.push_back(output);
  }
  void remove(const std::shared_ptr<Output> &output) {
    std::lock_guard lock(mutex);
    std::erase(outputs, output);
  }
  void request_keyframe() {
    int64_t now = g_get_monotonic_time();
    int64_t last = last_keyframe_request_us.load();
    if (now - last < kKeyframeRequestGapUs ||
        !last_keyframe_request_us.compare_exchange_strong(last, now)) {
      return;
    }
    GstPad *pad = nullptr;
    {
      std::lock_guard lock(mutex);
      pad = video_pad ? GST_PAD(gst_object_ref(video_pad.get())) : nullptr;
    }
    if (pad) {
      // Upstream through the tap: x264enc makes one when transcoding; an RTP
      // depayloader turns it into a PLI to the publisher.
      gst_pad_push_event(pad,
                         gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
      gst_object_unref(pad);
    }
  }
};

// A configured destination: its attempts, backoff and state, on the main
// context.
struct RtmpEgress::Destination {
  std::string id;
  std::string url;
  std::shared_ptr<Hub> hub;
  const EgressOptions &options;
  bool has_video = false;
  bool has_audio = false;
  std::string state = "connecting";
  std::string last_error;
  int64_t next_attempt_unix_ms = 0;
  uint64_t bytes_done = 0;  // previous attempts
  uint64_t attempts = 0;
  int failures_in_row = 0;
  int64_t started_us = 0;
  int64_t live_since_us = 0;
  std::shared_ptr<Output> output;
  guint bus_watch = 0;
  SourceGuard timer;
  // Work posted to the main context checks it: the destination may be gone.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Destination(std::string i, std::string u, std::shared_ptr<Hub> h, const EgressOptions &o,
              bool video, bool audio)
      : id(std::move(i)),
        url(std::move(u)),
        hub(std::move(h)),
        options(o),
        has_video(video),
        has_audio(audio) {}
  ~Destination() {
    timer.reset();
    stop();
  }

  uint64_t bytes_sent() const { return bytes_done + (output ? output->bytes.load() : 0); }

  bool build(std::string *error) {
    auto out = std::make_shared<Output>();
    out->pipeline = sink(gst_pipeline_new(nullptr));
    GstElement *mux = gst_element_factory_make("flvmux", nullptr);
    GstElement *rtmp = gst_element_factory_make("rtmp2sink", nullptr);
    if (!mux || !rtmp) {
      *error = "flvmux or rtmp2sink is missing (gstreamer1.0-plugins-good, -bad)";
      if (mux) {
        gst_object_unref(gst_object_ref_sink(mux));
      }
      if (rtmp) {
        gst_object_unref(gst_object_ref_sink(rtmp));
      }
      return false;
    }
    g_object_set(mux, "streamable", TRUE, nullptr);
    // The stream is live already; the sink sends as buffers come.
    g_object_set(rtmp, "location", url.c_str(), "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add_many(GST_BIN(out->pipeline.get()), mux, rtmp, nullptr);
    gst_element_link(mux, rtmp);
    auto make_src = [&](const char *pad) {
      GstElement *src = gst_element_factory_make("appsrc", nullptr);
      g_object_set(src, "format", GST_FORMAT_TIME, "is-live", FALSE, "do-timestamp", FALSE, "block",
                   FALSE, "max-bytes", guint64(0), "max-buffers", guint64(0), "max-time",
                   guint64(options.queue_ms) * GST_MSECOND, "leaky-type", 2 /* downstream */,
                   nullptr);
      gst_bin_add(GST_BIN(out->pipeline.get()), src);
      gst_element_link_pads(src, "src", mux, pad);
      return ref(src);
    };
    if (has_video) {
      out->video = make_src("video");
    }
    if (has_audio) {
      out->audio = make_src("audio");
    }
    GstPtr<GstPad> sink_pad(gst_element_get_static_pad(rtmp, "sink"));
    gst_pad_add_probe(
        sink_pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *o = static_cast<Output *>(data);
          o->bytes.fetch_add(gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info)));
          o->buffers.fetch_add(1);
          return GST_PAD_PROBE_OK;
        },
        out.get(), nullptr);
    output = std::move(out);
    return true;
  }

  void start() {
    timer.reset();
    ++attempts;
    state = "connecting";
    next_attempt_unix_ms = 0;
    std::string error;
    if (!build(&error)) {
      fail(error);
      return;
    }
    GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(output->pipeline.get())));
    bus_watch = gst_bus_add_watch(
        bus.get(),
        [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
          auto *self = static_cast<Destination *>(data);
          if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
            GError *gerror = nullptr;
            gst_message_parse_error(message, &gerror, nullptr);
            std::string text = gerror ? gerror->message : "error";
            g_clear_error(&gerror);
            self->bus_watch = 0;
            self->fail(text);
            return G_SOURCE_REMOVE;
          }
          if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
            self->bus_watch = 0;
            self->fail("the connection ended");
            return G_SOURCE_REMOVE;
          }
          return G_SOURCE_CONTINUE;
        },
        this);
    started_us = g_get_monotonic_time();
    live_since_us = 0;
    if (gst_element_set_state(output->pipeline.get(), GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE) {
      fail("the destination's pipeline did not start");
      return;
    }
    hub->add(output);
    hub->request_keyframe();
    timer = add_timeout(g_main_context_get_thread_default(), 250, [this] { return tick(); });
  }

  // Watches a running attempt: live once the sink has taken data, a retry when
  // it never connects, and more key frame requests while it waits for one.
  bool tick() {
    if (!output) {
      return false;
    }
    int64_t now = g_get_monotonic_time();
    // The sink takes the next buffer only after the previous one was sent.
    if (live_since_us == 0 && output->buffers.load() >= 2) {
      live_since_us = now;
      state = "live";
    }
    if (live_since_us == 0 && now - started_us > options.connect_timeout_ms * 1000) {
      // Say which side is missing: the RTMP server, or the stream's media.
      post_fail(output->queued.load() == 0
                    ? "no media from the stream within " +
                          std::to_string(options.connect_timeout_ms / 1000) + " s"
                    : "no connection after " + std::to_string(options.connect_timeout_ms / 1000) +
                          " s");
      return false;
    }
    bool waiting = false;
    {
      std::lock_guard lock(output->mutex);
      waiting = output->waiting_keyframe;
    }
    if (waiting && has_video) {
      hub->request_keyframe();
    }
    return true;
  }

  void post_fail(const std::string &reason) {
    // From the timer itself: fail() resets the timer, so it runs afterwards.
    post_to(g_main_context_get_thread_default(),
            [this, reason, weak = std::weak_ptr(alive), attempt = attempts] {
              if (weak.lock() && attempts == attempt && state != "retrying") {
                fail(reason);
              }
            });
  }

  void stop() {
    if (!output) {
      return;
    }
    hub->remove(output);
    if (bus_watch) {
      g_source_remove(bus_watch);
      bus_watch = 0;
    }
    gst_element_set_state(output->pipeline.get(), GST_STATE_NULL);
    bytes_done += output->bytes.load();
    output.reset();
  }

  void fail(const std::string &reason) {
    int64_t now = g_get_monotonic_time();
    if (live_since_us != 0 && now - live_since_us >= kHealthyAfterUs) {
      failures_in_row = 0;
    }
    timer.reset();
    stop();
    last_error = reason;
    int64_t delay = options.backoff_initial_ms;
    for (int i = 0; i < failures_in_row && delay < options.backoff_max_ms; ++i) {
      delay *= 2;
    }
    delay = std::min(delay, options.backoff_max_ms);
    ++failures_in_row;
    state = "retrying";
    next_attempt_unix_ms = now_unix_ms() + delay;
    timer = add_timeout(g_main_context_get_thread_default(), static_cast<guint>(delay), [this] {
      post_to(g_main_context_get_thread_default(),
              [this, weak = std::weak_ptr(alive), attempt = attempts] {
                if (weak.lock() && attempts == attempt && state == "retrying") {
                  start();
                }
              });
      return false;
    });
  }
};

RtmpEgress::RtmpEgress(std::string stream, pipelines::Pipeline &pipeline, StreamMedia media,
                       EgressOptions options)
    : stream_(std::move(stream)),
      pipeline_(pipeline),
      media_(std::move(media)),
      options_(options),
      hub_(std::make_shared<Hub>()) {}

RtmpEgress::~RtmpEgress() {
  destinations_.clear();
  detach_tap();
}

namespace {

// The tap's branch for one track: what the slot carries made FLV-ready, into
// an appsink that hands each buffer to every destination.
GstElement *make_tap_branch(const std::string &launch, bool is_video,
                            const std::shared_ptr<void> &hub_keepalive,
                            std::function<void(bool, GstSample *)> push, std::string *error) {
  GError *gerror = nullptr;
  GstElement *bin = gst_parse_bin_from_description(launch.c_str(), TRUE, &gerror);
  if (!bin) {
    *error = std::string("cannot build the restream tap: ") +
             (gerror ? gerror->message : "unknown element");
    g_clear_error(&gerror);
    return nullptr;
  }
  g_clear_error(&gerror);
  GstPtr<GstElement> appsink(gst_bin_get_by_name(GST_BIN(bin), "out"));
  struct Context {
    std::shared_ptr<void> keepalive;
    std::function<void(bool, GstSample *)> push;
    bool is_video;
  };
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
    auto *context = static_cast<Context *>(data);
    if (GstSample *sample = gst_app_sink_pull_sample(sink)) {
      context->push(context->is_video, sample);
      gst_sample_unref(sample);
    }
    return GST_FLOW_OK;
  };
  gst_app_sink_set_callbacks(GST_APP_SINK(appsink.get()), &callbacks,
                             new Context{hub_keepalive, std::move(push), is_video},
                             [](gpointer data) { delete static_cast<Context *>(data); });
  return bin;
}

std::string slot_encoding(pipelines::Slot *slot) {
  MiniPtr<GstCaps> caps(gst_caps_from_string(slot->caps().c_str()));
  if (!caps || gst_caps_is_empty(caps.get()) || gst_caps_is_any(caps.get())) {
    return {};
  }
  const char *name =
      gst_structure_get_string(gst_caps_get_structure(caps.get(), 0), "encoding-name");
  return name ? name : "";
}

}  // namespace

bool RtmpEgress::attach_tap(std::string *error) {
  // A leaky queue first: a transcoder that falls behind drops frames instead
  // of holding the stream's tee (and so its viewers).
  const std::string queue =
      "queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 ! ";
  const std::string appsink = "appsink name=out sync=false async=false enable-last-sample=false";
  struct Track {
    bool is_video;
    std::string slot;
    std::string launch;
  };
  std::vector<Track> tracks;
  if (media_.video_codec == "H264") {
    if (pipeline_.slot("video-h264")) {
      tracks.push_back({true, "video-h264", queue + appsink});
    } else if (pipeline_.slot("video-rtp") && slot_encoding(pipeline_.slot("video-rtp")) != "VP8") {
      tracks.push_back(
          {true, "video-rtp",
           queue + "rtph264depay ! video/x-h264,stream-format=avc,alignment=au ! " + appsink});
    }
  } else if (media_.video_codec == "VP8" && pipeline_.slot("video-rtp")) {
    const int key_frames = std::max(1, options_.keyframe_interval_seconds) * 30;
    tracks.push_back(
        {true, "video-rtp",
         queue + "rtpvp8depay ! vp8dec max-errors=-1 ! videoconvert ! " +
             "x264enc name=rtmp-x264 tune=zerolatency speed-preset=veryfast bframes=0 " +
             "key-int-max=" + std::to_string(key_frames) +
             " bitrate=" + std::to_string(options_.video_bitrate_kbps) +
             " ! video/x-h264,profile=main ! h264parse ! "
             "video/x-h264,stream-format=avc,alignment=au ! " +
             appsink});
  }
  if (!media_.video_codec.empty() && tracks.empty()) {
    *error = "the stream's description has no slot carrying its " + media_.video_codec +
             " video (video-h264 or video-rtp)";
    return false;
  }
  if (media_.audio) {
    const std::string aac =
        "opusdec ! audioconvert ! audioresample ! audio/x-raw,rate=" +
        std::to_string(options_.audio_rate) +
        ",channels=2 ! avenc_aac name=rtmp-aac bitrate=" + std::to_string(options_.audio_bitrate) +
        " ! aacparse ! ";
    if (pipeline_.slot("audio-opus")) {
      tracks.push_back({false, "audio-opus", queue + aac + appsink});
    } else if (pipeline_.slot("audio-rtp")) {
      tracks.push_back({false, "audio-rtp", queue + "rtpopusdepay ! " + aac + appsink});
    } else {
      *error = "the stream's description has no slot carrying its audio (audio-opus or audio-rtp)";
      return false;
    }
  }
  std::weak_ptr<Hub> weak = hub_;
  auto push = [weak](bool is_video, GstSample *sample) {
    if (auto hub = weak.lock()) {
      hub->push(is_video, sample);
    }
  };
  for (const auto &track : tracks) {
    auto slot = pipeline_.slot_ptr(track.slot);
    GstElement *bin = make_tap_branch(track.launch, track.is_video, hub_, push, error);
    if (!bin) {
      detach_tap();
      return false;
    }
    if (track.is_video) {
      GstPtr<GstElement> appsink(gst_bin_get_by_name(GST_BIN(bin), "out"));
      std::lock_guard lock(hub_->mutex);
      hub_->video_pad.reset(gst_element_get_static_pad(appsink.get(), "sink"));
    }
    auto branch = slot->attach(bin, error, {.request_keyframe = track.is_video});
    if (!branch) {
      detach_tap();
      return false;
    }
    tap_.emplace_back(slot, branch);
  }
  return true;
}

void RtmpEgress::detach_tap() {
  {
    std::lock_guard lock(hub_->mutex);
    hub_->video_pad.reset();
  }
  for (auto &[slot, branch] : tap_) {
    slot->detach(branch);
  }
  tap_.clear();
}

std::string RtmpEgress::add(const std::string &url, std::string *error) {
  if (std::string why = check_rtmp_url(url); !why.empty()) {
    *error = why;
    return {};
  }
  if (media_.video_codec.empty() && !media_.audio) {
    *error = "the stream has neither video nor audio";
    return {};
  }
  if (media_.video_codec != "" && media_.video_codec != "H264" && media_.video_codec != "VP8") {
    *error = "RTMP carries H.264; " + media_.video_codec + " video cannot be restreamed";
    return {};
  }
  if (tap_.empty() && !attach_tap(error)) {
    return {};
  }
  std::string id = std::to_string(next_id_++);
  auto destination = std::make_unique<Destination>(id, url, hub_, options_,
                                                   !media_.video_codec.empty(), media_.audio);
  Destination *raw = destination.get();
  destinations_[id] = std::move(destination);
  raw->start();
  return id;
}

bool RtmpEgress::remove(const std::string &id) {
  auto it = destinations_.find(id);
  if (it == destinations_.end()) {
    return false;
  }
  destinations_.erase(it);
  // The transcode runs only while someone restreams.
  if (destinations_.empty()) {
    detach_tap();
  }
  return true;
}

std::vector<DestinationInfo> RtmpEgress::destinations() const {
  std::vector<DestinationInfo> out;
  for (const auto &[id, d] : destinations_) {
    out.push_back({d->id, d->url, d->state, d->last_error, d->next_attempt_unix_ms, d->bytes_sent(),
                   d->attempts});
  }
  return out;
}

}  // namespace livepipe::signaling::rtmp
