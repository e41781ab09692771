#include "viewer.h"

#include "util/maincontext.h"

#include <gst/app/app.h>
#include <gst/rtp/rtp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <mutex>

namespace livepipe::signaling::media {
namespace {

class WebrtcbinViewer : public ViewerTransport {
 public:
  WebrtcbinViewer(const std::string &name, Events events, const std::string &stun,
                  const std::vector<std::string> &ice_addresses)
      : events_(std::move(events)), shared_(std::make_shared<Shared>()) {
    shared_->self = this;
    shared_->context = g_main_context_ref_thread_default();
    pipeline_ = sink(gst_pipeline_new(("viewer-" + name).c_str()));
    webrtc_ = ref(gst_element_factory_make("webrtcbin", "webrtc"));
    g_object_set(webrtc_.get(), "bundle-policy", 3 /* max-bundle */, nullptr);
    if (!stun.empty()) {
      g_object_set(webrtc_.get(), "stun-server", stun.c_str(), nullptr);
    }
    gst_bin_add(GST_BIN(pipeline_.get()), webrtc_.get());
    disable_upnp(webrtc_.get());
    add_ice_addresses(webrtc_.get(), ice_addresses);
    answerer_ = std::make_unique<Answerer>(webrtc_.get(), [this](const std::string &state) {
      if (state == "failed" || state == "closed") {
        close("ICE " + state);
      }
    });
    // The key frame a viewer starts from must come once its DTLS is up: one
    // produced before then (when the viewer was attached) reaches nobody, and
    // the viewer would wait for the encoder's next one.
    connection_handler_ =
        g_signal_connect(webrtc_.get(), "notify::connection-state",
                         G_CALLBACK(+[](GstElement *webrtc, GParamSpec *, gpointer data) {
                           auto *self = static_cast<WebrtcbinViewer *>(data);
                           GstWebRTCPeerConnectionState state;
                           g_object_get(webrtc, "connection-state", &state, nullptr);
                           if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED &&
                               self->events_.on_keyframe_request) {
                             self->events_.on_keyframe_request();
                           }
                         }),
                         this);
    GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(pipeline_.get())));
    bus_watch_ = gst_bus_add_watch(
        bus.get(),
        [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
          auto *self = static_cast<WebrtcbinViewer *>(data);
          if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
            GError *error = nullptr;
            gst_message_parse_error(message, &error, nullptr);
            std::string text = error ? error->message : "pipeline error";
            g_clear_error(&error);
            self->close("viewer pipeline error: " + text);
          }
          return G_SOURCE_CONTINUE;
        },
        this);
  }

  ~WebrtcbinViewer() override {
    {
      std::lock_guard lock(mutex_);
      video_src_.reset();
      audio_src_.reset();
    }
    g_source_remove(bus_watch_);
    g_signal_handler_disconnect(webrtc_.get(), connection_handler_);
    answerer_.reset();
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    shared_->self = nullptr;
    g_main_context_unref(shared_->context);
  }

  bool ok() const { return webrtc_ != nullptr; }

  void answer(const OfferPlan &plan, guint gather_timeout_ms, Answerer::Done done) override {
    std::string error;
    for (const auto &m : plan.media) {
      if (!add_track(m, &error)) {
        done({}, error);
        return;
      }
    }
    if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      done({}, "the viewer pipeline did not start");
      return;
    }
    answerer_->answer(plan.sdp, gather_timeout_ms, std::move(done));
  }

  void add_candidate(unsigned mline, const std::string &candidate) override {
    answerer_->add_candidate(mline, candidate);
  }

  std::optional<IceParams> restart_ice(const IceParams &remote, std::string *error) override {
    if (!answerer_->answered()) {
      *error = "the session has not been answered yet";
      return std::nullopt;
    }
    return media::restart_ice(webrtc_.get(), &remote, error);
  }

  void push(const std::string &kind, GstBuffer *rtp) override {
    GstPtr<GstElement> src;
    int pt = -1;
    {
      std::lock_guard lock(mutex_);
      if (kind == "video") {
        src = video_src_ ? ref(video_src_.get()) : nullptr;
        pt = video_pt_;
      } else {
        src = audio_src_ ? ref(audio_src_.get()) : nullptr;
        pt = audio_pt_;
      }
    }
    if (!src) {
      return;
    }
    // Shallow copy: the payload stays shared with the other viewers unless
    // this viewer's payload type differs and the header must be rewritten.
    GstBuffer *buffer = gst_buffer_copy(rtp);
    GST_BUFFER_PTS(buffer) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
    GstRTPBuffer mapped = GST_RTP_BUFFER_INIT;
    if (gst_rtp_buffer_map(buffer, GST_MAP_READ, &mapped)) {
      bool differs = gst_rtp_buffer_get_payload_type(&mapped) != pt;
      gst_rtp_buffer_unmap(&mapped);
      if (differs && gst_rtp_buffer_map(buffer, GST_MAP_READWRITE, &mapped)) {
        gst_rtp_buffer_set_payload_type(&mapped, static_cast<guint8>(pt));
        gst_rtp_buffer_unmap(&mapped);
      }
    }
    stats_packets_.fetch_add(1, std::memory_order_relaxed);
    stats_bytes_.fetch_add(gst_buffer_get_size(buffer), std::memory_order_relaxed);
    gst_app_src_push_buffer(GST_APP_SRC(src.get()), buffer);
  }

  TransportStats stats() const override { return {stats_packets_.load(), stats_bytes_.load()}; }

 private:
  struct Shared {
    WebrtcbinViewer *self = nullptr;
    GMainContext *context = nullptr;
  };

  bool add_track(const ChosenMedia &m, std::string *error) {
    GstCaps *caps = gst_caps_from_string(m.caps().c_str());
    if (!caps) {
      *error = "cannot make caps for " + m.kind;
      return false;
    }
    GstElement *src = gst_element_factory_make("appsrc", nullptr);
    // Live, never blocking the stream's thread: a viewer that cannot keep up
    // loses its own packets (leaky downstream), nobody else's.
    g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, "is-live", TRUE, "do-timestamp",
                 TRUE, "block", FALSE, "max-bytes", guint64(2 * 1024 * 1024), "leaky-type",
                 2 /* downstream */, nullptr);
    gst_caps_unref(caps);
    gst_bin_add(GST_BIN(pipeline_.get()), src);
    std::string pad_name = "sink_" + std::to_string(m.mline);
    GstPtr<GstPad> sink_pad(gst_element_request_pad_simple(webrtc_.get(), pad_name.c_str()));
    GstPtr<GstPad> src_pad(gst_element_get_static_pad(src, "src"));
    if (!sink_pad || gst_pad_link(src_pad.get(), sink_pad.get()) != GST_PAD_LINK_OK) {
      *error = "cannot link the " + m.kind + " track to webrtcbin";
      return false;
    }
    // webrtcbin turns a viewer's PLI/FIR into an upstream force-key-unit event.
    gst_pad_add_probe(
        src_pad.get(), GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *self = static_cast<WebrtcbinViewer *>(data);
          if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info)) &&
              self->events_.on_keyframe_request) {
            self->events_.on_keyframe_request();
          }
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
    std::lock_guard lock(mutex_);
    if (m.kind == "video") {
      video_src_ = ref(src);
      video_pt_ = m.payload_type;
    } else {
      audio_src_ = ref(src);
      audio_pt_ = m.payload_type;
    }
    return true;
  }

  void close(const std::string &reason) {
    if (closed_) {
      return;
    }
    closed_ = true;
    // The owner destroys this transport in on_closed: leave the callback first.
    auto shared = shared_;
    post_to(shared->context, [shared, reason] {
      if (shared->self && shared->self->events_.on_closed) {
        shared->self->events_.on_closed(reason);
      }
    });
  }

  Events events_;
  std::shared_ptr<Shared> shared_;
  GstPtr<GstElement> pipeline_;
  GstPtr<GstElement> webrtc_;
  std::unique_ptr<Answerer> answerer_;
  guint bus_watch_ = 0;
  gulong connection_handler_ = 0;
  bool closed_ = false;
  std::mutex mutex_;
  GstPtr<GstElement> video_src_;
  GstPtr<GstElement> audio_src_;
  int video_pt_ = -1;
  int audio_pt_ = -1;
  std::atomic<uint64_t> stats_packets_{0};
  std::atomic<uint64_t> stats_bytes_{0};
};

}  // namespace

std::unique_ptr<ViewerTransport> WebrtcbinViewerFactory::create(const std::string &name,
                                                                ViewerTransport::Events events,
                                                                std::string *error) {
  GstPtr<GstElementFactory> factory(gst_element_factory_find("webrtcbin"));
  if (!factory) {
    *error = "the webrtcbin element is not installed";
    return nullptr;
  }
  return std::make_unique<WebrtcbinViewer>(name, std::move(events), stun_server_, ice_addresses_);
}

}  // namespace livepipe::signaling::media
