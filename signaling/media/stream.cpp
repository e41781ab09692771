#include "stream.h"

#include "rtp_keyframe.h"

#include "loader.h"
#include "util/maincontext.h"

#include <algorithm>
#include <gst/app/app.h>
#include <gst/rtp/rtp.h>
#include <gst/video/video.h>

#include <cstring>
#include <mutex>

namespace livepipe::signaling::media {
namespace {

// How long a new publisher may take to connect before its first packet.
constexpr int64_t kConnectGraceSeconds = 20;

// What a viewer's appsink branches push into; cleared before the transport
// dies so a late packet on the streaming thread never reaches a freed one.
struct Feed {
  std::mutex mutex;
  ViewerTransport *transport = nullptr;
  std::function<void()> keyframe;
  void request_keyframe() {
    std::lock_guard lock(mutex);
    if (keyframe) {
      keyframe();
    }
  }
  void push(const std::string &kind, GstBuffer *buffer) {
    std::lock_guard lock(mutex);
    if (transport) {
      transport->push(kind, buffer);
    }
  }
};

// A branch for one viewer and one track: an appsink handing each packet to
// the viewer's transport on the stream's streaming thread.
GstElement *make_feed_branch(const std::shared_ptr<Feed> &feed, const std::string &kind) {
  GstElement *appsink = gst_element_factory_make("appsink", nullptr);
  g_object_set(appsink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, "max-buffers",
               guint(64), "drop", TRUE, nullptr);
  struct Context {
    std::shared_ptr<Feed> feed;
    std::string kind;
  };
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
    auto *context = static_cast<Context *>(data);
    if (GstSample *sample = gst_app_sink_pull_sample(sink)) {
      context->feed->push(context->kind, gst_sample_get_buffer(sample));
      gst_sample_unref(sample);
    }
    return GST_FLOW_OK;
  };
  gst_app_sink_set_callbacks(GST_APP_SINK(appsink), &callbacks, new Context{feed, kind},
                             [](gpointer data) { delete static_cast<Context *>(data); });
  return appsink;
}

const char *slot_for(const std::string &kind) {
  return kind == "video" ? "video-rtp" : "audio-rtp";
}

// The codecs the description payloads for viewers, from what the element
// feeding the slot can produce (known as soon as the pipeline is built).
std::vector<Codec> rtp_codecs_into(GstElement *slot_element) {
  std::vector<Codec> codecs;
  GstPtr<GstPad> sink(gst_element_get_static_pad(slot_element, "sink"));
  if (!sink) {
    return codecs;
  }
  GstCaps *caps = gst_pad_peer_query_caps(sink.get(), nullptr);
  if (!caps) {
    return codecs;
  }
  auto add = [&](const GValue *value) {
    if (!value || !G_VALUE_HOLDS_STRING(value)) {
      return;
    }
    for (Codec codec : {Codec::kH264, Codec::kVP8}) {
      if (!g_ascii_strcasecmp(g_value_get_string(value), codec_name(codec)) &&
          std::find(codecs.begin(), codecs.end(), codec) == codecs.end()) {
        codecs.push_back(codec);
      }
    }
  };
  for (guint i = 0; i < gst_caps_get_size(caps); ++i) {
    const GValue *name = gst_structure_get_value(gst_caps_get_structure(caps, i), "encoding-name");
    if (name && GST_VALUE_HOLDS_LIST(name)) {
      for (guint j = 0; j < gst_value_list_get_size(name); ++j) {
        add(gst_value_list_get_value(name, j));
      }
    } else {
      add(name);
    }
  }
  gst_caps_unref(caps);
  return codecs;
}

size_t count_encoders(GstBin *bin) {
  size_t count = 0;
  GstIterator *it = gst_bin_iterate_recurse(bin);
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto *element = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory *factory = gst_element_get_factory(element);
    const char *klass =
        factory ? gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS) : nullptr;
    if (klass && std::strstr(klass, "Codec/Encoder")) {
      ++count;
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return count;
}

}  // namespace

struct Stream::Viewer {
  std::string id;
  int64_t since_unix = 0;
  std::shared_ptr<Feed> feed;
  std::unique_ptr<ViewerTransport> transport;
  std::vector<std::pair<std::shared_ptr<pipelines::Slot>, pipelines::BranchPtr>> branches;
};

struct Stream::Timer {
  SourceGuard source;
};

Stream::Stream(std::string name, StreamOptions options, ViewerTransportFactory &transports,
               Events events)
    : name_(std::move(name)),
      options_(std::move(options)),
      transports_(transports),
      events_(std::move(events)),
      idle_timer_(std::make_unique<Timer>()),
      alive_(std::make_shared<bool>(true)),
      context_(g_main_context_ref_thread_default()) {}

Stream::~Stream() {
  *alive_ = false;
  g_main_context_unref(context_);
  idle_timer_->source.reset();
  for (auto &[id, viewer] : viewers_) {
    std::lock_guard lock(viewer->feed->mutex);
    viewer->feed->transport = nullptr;
    viewer->feed->keyframe = nullptr;
  }
  viewers_.clear();
  publisher_.reset();
  if (pipeline_) {
    if (pad_added_) {
      if (GstElement *webrtc = pipeline_->find("webrtc")) {
        g_signal_handler_disconnect(webrtc, pad_added_);
      }
    }
    if (bus_watch_) {
      g_source_remove(bus_watch_);
    }
    gst_element_set_state(pipeline_->element(), GST_STATE_NULL);
  }
}

bool Stream::start(const OfferPlan &publisher, Answerer::Done done, std::string *error) {
  publisher_plan_ = publisher;
  pipelines::Loader loader(options_.include_dirs);
  pipelines::LoadOptions load;
  load.params = options_.params;
  auto loaded = loader.load_file(options_.description, load);
  if (!loaded.ok()) {
    *error = "the stream's description does not load: " + loaded.problems.front().to_string();
    return false;
  }
  pipeline_ = std::move(loaded.pipeline);
  GstElement *webrtc = pipeline_->find("webrtc");
  if (!webrtc || g_strcmp0(G_OBJECT_TYPE_NAME(webrtc), "GstWebRTCBin") != 0) {
    *error = "the stream's description has no webrtcbin with id \"webrtc\"";
    return false;
  }
  for (const auto &m : publisher.media) {
    if (!pipeline_->slot(slot_for(m.kind))) {
      *error = std::string("the stream's description has no slot \"") + slot_for(m.kind) + "\"";
      return false;
    }
  }
  set_viewer_video_codecs();
  watch_keyframes();
  disable_upnp(webrtc);
  add_ice_addresses(webrtc, options_.ice_addresses);
  pad_added_ = g_signal_connect(webrtc, "pad-added",
                                G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer data) {
                                  static_cast<Stream *>(data)->on_pad_added(pad);
                                }),
                                this);
  GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(pipeline_->element())));
  bus_watch_ = gst_bus_add_watch(
      bus.get(),
      [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
        auto *self = static_cast<Stream *>(data);
        if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
          GError *gerror = nullptr;
          gst_message_parse_error(message, &gerror, nullptr);
          std::string text = gerror ? gerror->message : "pipeline error";
          g_clear_error(&gerror);
          self->end("the stream's pipeline failed: " + text);
        }
        self->tell_listeners(message);
        return G_SOURCE_CONTINUE;
      },
      this);
  publisher_ = std::make_unique<Answerer>(
      webrtc, [this](const std::string &state) { on_publisher_state(state); });
  if (gst_element_set_state(pipeline_->element(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "the stream's pipeline did not start";
    return false;
  }
  started_unix_ = g_get_real_time() / G_USEC_PER_SEC;
  last_media_us_ = g_get_monotonic_time();
  idle_timer_->source = add_timeout(g_main_context_get_thread_default(), 500, [this] {
    // Until the first packet the publisher is still connecting (ICE, DTLS),
    // which takes longer on a busy host: it gets a longer grace period.
    const int64_t limit_s =
        packets_in_.load(std::memory_order_relaxed) == 0
            ? std::max<int64_t>(options_.idle_timeout_seconds, kConnectGraceSeconds)
            : options_.idle_timeout_seconds;
    int64_t idle_us = g_get_monotonic_time() - last_media_us_.load();
    if (idle_us > limit_s * G_USEC_PER_SEC) {
      end("no media from the publisher for " + std::to_string(limit_s) + " s");
      return false;
    }
    return true;
  });
  publisher_->answer(publisher.sdp, options_.gather_timeout_ms, std::move(done));
  return true;
}

bool Stream::start_source(const OfferPlan &media, std::string *error) {
  publisher_plan_ = media;
  pipelines::Loader loader(options_.include_dirs);
  pipelines::LoadOptions load;
  load.params = options_.params;
  auto loaded = loader.load_file(options_.description, load);
  if (!loaded.ok()) {
    *error = "the stream's description does not load: " + loaded.problems.front().to_string();
    return false;
  }
  pipeline_ = std::move(loaded.pipeline);
  for (const auto &m : media.media) {
    if (!pipeline_->slot(slot_for(m.kind))) {
      *error = std::string("the stream's description has no slot \"") + slot_for(m.kind) + "\"";
      return false;
    }
  }
  set_viewer_video_codecs();
  watch_keyframes();
  // Media in: what reaches the slots' tees.
  for (const auto &m : media.media) {
    GstPtr<GstPad> pad(
        gst_element_get_static_pad(pipeline_->slot(slot_for(m.kind))->element(), "sink"));
    gst_pad_add_probe(
        pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *self = static_cast<Stream *>(data);
          self->bytes_in_.fetch_add(gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info)),
                                    std::memory_order_relaxed);
          self->packets_in_.fetch_add(1, std::memory_order_relaxed);
          self->last_media_us_.store(g_get_monotonic_time(), std::memory_order_relaxed);
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
  }
  GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(pipeline_->element())));
  bus_watch_ = gst_bus_add_watch(
      bus.get(),
      [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
        auto *self = static_cast<Stream *>(data);
        if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
          GError *gerror = nullptr;
          gst_message_parse_error(message, &gerror, nullptr);
          std::string text = gerror ? gerror->message : "pipeline error";
          g_clear_error(&gerror);
          self->end("the stream's source failed: " + text);
        } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
          self->end("the stream's source ended");
        }
        self->tell_listeners(message);
        return G_SOURCE_CONTINUE;
      },
      this);
  if (gst_element_set_state(pipeline_->element(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "the stream's pipeline did not start";
    return false;
  }
  publisher_state_ = "connected";
  started_unix_ = g_get_real_time() / G_USEC_PER_SEC;
  last_media_us_ = g_get_monotonic_time();
  idle_timer_->source = add_timeout(g_main_context_get_thread_default(), 500, [this] {
    const int64_t limit_s =
        packets_in_.load(std::memory_order_relaxed) == 0
            ? std::max<int64_t>(options_.idle_timeout_seconds, kConnectGraceSeconds)
            : options_.idle_timeout_seconds;
    if (g_get_monotonic_time() - last_media_us_.load() > limit_s * G_USEC_PER_SEC) {
      end("no media from the source for " + std::to_string(limit_s) + " s");
      return false;
    }
    return true;
  });
  return true;
}

void Stream::tell_listeners(GstMessage *message) {
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT &&
      GST_MESSAGE_TYPE(message) != GST_MESSAGE_WARNING) {
    return;
  }
  for (const auto &listener : message_listeners_) {
    listener(message);
  }
}

void Stream::on_pad_added(GstPad *pad) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
    return;
  }
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        auto *self = static_cast<Stream *>(data);
        self->bytes_in_.fetch_add(gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info)),
                                  std::memory_order_relaxed);
        self->packets_in_.fetch_add(1, std::memory_order_relaxed);
        self->last_media_us_.store(g_get_monotonic_time(), std::memory_order_relaxed);
        return GST_PAD_PROBE_OK;
      },
      this, nullptr);
}

void Stream::on_publisher_state(const std::string &state) {
  publisher_state_ = state;
  if (state == "failed" || state == "closed") {
    end("the publisher's connection " + state);
  }
}

void Stream::add_publisher_candidate(unsigned mline, const std::string &candidate) {
  if (publisher_) {
    publisher_->add_candidate(mline, candidate);
  }
}

std::optional<IceParams> Stream::restart_publisher_ice(const IceParams &remote,
                                                       std::string *error) {
  if (!publisher_ || !publisher_->answered()) {
    *error = "the publisher's session has not been answered yet";
    return std::nullopt;
  }
  return restart_ice(publisher_->webrtcbin(), &remote, error);
}

std::optional<IceParams> Stream::restart_viewer_ice(const std::string &viewer,
                                                    const IceParams &remote, std::string *error) {
  auto it = viewers_.find(viewer);
  if (it == viewers_.end()) {
    *error = "no such viewer";
    return std::nullopt;
  }
  return it->second->transport->restart_ice(remote, error);
}

void Stream::set_viewer_video_codecs() {
  const ChosenMedia *video = publisher_plan_.find("video");
  if (!video || !pipeline_->slot("video-rtp")) {
    return;
  }
  viewer_video_codecs_ = rtp_codecs_into(pipeline_->slot("video-rtp")->element());
  // A description that forwards its publisher's RTP type as it is.
  if (viewer_video_codecs_.size() != 1) {
    viewer_video_codecs_ = {video->codec};
  }
}

std::vector<Codec> Stream::video_codecs() const {
  return viewer_video_codecs_;
}

size_t Stream::encoder_count() const {
  return pipeline_ ? count_encoders(GST_BIN(pipeline_->element())) : 0;
}

std::vector<Codec> Stream::audio_codecs() const {
  const ChosenMedia *m = publisher_plan_.find("audio");
  return m ? std::vector<Codec>{m->codec} : std::vector<Codec>{};
}

void Stream::request_keyframe() {
  const int64_t now = g_get_monotonic_time();
  int64_t wanted = keyframe_wanted_us_.load();
  while (wanted < now && !keyframe_wanted_us_.compare_exchange_weak(wanted, now)) {
  }
  make_keyframe_request();
}

void Stream::make_keyframe_request() {
  // A viewer that asks while a requested key frame is on its way gets that
  // one; a burst of joins or PLIs makes one key frame, not many. One asked
  // for just after a key frame went by is made when kMinGapUs has passed
  // since it (not dropped: the viewer would wait for the encoder's next
  // periodic key frame), so requests never make more than about three key
  // frames a second.
  constexpr int64_t kMinGapUs = 300 * 1000;
  // A request still unanswered after this long (lost on the way, or taken by
  // an encoder that was being replaced) is made again.
  constexpr int64_t kPendingUs = 500 * 1000;
  const int64_t now = g_get_monotonic_time();
  int64_t requested = last_keyframe_request_us_.load();
  // Without an encoding to read key frames from, a request counts as
  // answered at once (only the gap applies).
  const int64_t seen = video_encoding_.load() ? last_keyframe_us_.load() : requested;
  int64_t wait_us = 0;
  if (requested > seen && now - requested < kPendingUs) {
    wait_us = requested + kPendingUs - now;
  } else if (now - std::max(seen, requested) < kMinGapUs) {
    wait_us = std::max(seen, requested) + kMinGapUs - now;
  } else if (!last_keyframe_request_us_.compare_exchange_strong(requested, now)) {
    wait_us = kMinGapUs;  // another thread requested one just now
  }
  if (wait_us > 0) {
    // Looked at again then: asked for once more only if a viewer asked after
    // the last key frame went by.
    if (!keyframe_pending_.exchange(true)) {
      struct Later {
        Stream *stream;
        std::weak_ptr<bool> alive;
      };
      GSource *source =
          g_timeout_source_new(static_cast<guint>(std::max<int64_t>(1, wait_us / 1000)));
      g_source_set_callback(
          source,
          [](gpointer data) -> gboolean {
            auto *later = static_cast<Later *>(data);
            if (auto alive = later->alive.lock(); alive && *alive) {
              Stream *stream = later->stream;
              stream->keyframe_pending_ = false;
              if (stream->keyframe_wanted_us_.load() > stream->last_keyframe_us_.load()) {
                stream->make_keyframe_request();
              }
            }
            return G_SOURCE_REMOVE;
          },
          new Later{this, alive_}, [](gpointer data) { delete static_cast<Later *>(data); });
      g_source_attach(source, context_);
      g_source_unref(source);
    }
    return;
  }
  if (!pipeline_) {
    return;
  }
  if (pipelines::Slot *slot = pipeline_->slot("video-rtp")) {
    GstPtr<GstPad> sink_pad(gst_element_get_static_pad(slot->element(), "sink"));
    if (sink_pad) {
      gst_pad_push_event(sink_pad.get(),
                         gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
    }
  }
}

void Stream::watch_keyframes() {
  pipelines::Slot *slot = pipeline_ ? pipeline_->slot("video-rtp") : nullptr;
  GstPtr<GstPad> sink_pad(slot ? gst_element_get_static_pad(slot->element(), "sink") : nullptr);
  if (!sink_pad) {
    return;
  }
  // The RTP encoding comes with the caps; every packet is then checked for
  // the start of a key frame (a few byte reads).
  gst_pad_add_probe(
      sink_pad.get(),
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                   GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        auto *self = static_cast<Stream *>(data);
        if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
          GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
          if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
            GstCaps *caps = nullptr;
            gst_event_parse_caps(event, &caps);
            const GstStructure *s = caps ? gst_caps_get_structure(caps, 0) : nullptr;
            const char *name = s ? gst_structure_get_string(s, "encoding-name") : nullptr;
            self->video_encoding_ = !name                                   ? 0
                                    : g_ascii_strcasecmp(name, "H264") == 0 ? 1
                                    : g_ascii_strcasecmp(name, "VP8") == 0  ? 2
                                                                            : 0;
          }
          return GST_PAD_PROBE_OK;
        }
        const int encoding = self->video_encoding_.load();
        if (encoding == 0) {
          return GST_PAD_PROBE_OK;
        }
        auto check = [&](GstBuffer *buffer) {
          GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
          if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp)) {
            return;
          }
          const auto *payload = static_cast<const uint8_t *>(gst_rtp_buffer_get_payload(&rtp));
          if (rtp_begins_keyframe(encoding == 1 ? "H264" : "VP8", payload,
                                  gst_rtp_buffer_get_payload_len(&rtp))) {
            self->last_keyframe_us_ = g_get_monotonic_time();
          }
          gst_rtp_buffer_unmap(&rtp);
        };
        if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
          GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
          for (guint i = 0, n = gst_buffer_list_length(list); i < n; ++i) {
            check(gst_buffer_list_get(list, i));
          }
        } else {
          check(GST_PAD_PROBE_INFO_BUFFER(info));
        }
        return GST_PAD_PROBE_OK;
      },
      this, nullptr);
}

std::string Stream::add_viewer(const OfferPlan &plan, Answerer::Done done, std::string *error) {
  if (ended_) {
    *error = "the stream has ended";
    return {};
  }
  std::string id = std::to_string(next_viewer_++);
  auto viewer = std::make_unique<Viewer>();
  viewer->id = id;
  viewer->since_unix = g_get_real_time() / G_USEC_PER_SEC;
  viewer->feed = std::make_shared<Feed>();
  std::weak_ptr<bool> alive = alive_;
  ViewerTransport::Events events;
  events.on_closed = [this, alive, id](const std::string &reason) {
    if (alive.lock() && *alive.lock() && viewers_.count(id)) {
      remove_viewer(id);
      if (events_.on_viewer_closed) {
        events_.on_viewer_closed(id, reason);
      }
    }
  };
  // Runs on the viewer's threads; request_keyframe only pushes an event.
  std::weak_ptr<Feed> weak_feed = viewer->feed;
  events.on_keyframe_request = [weak_feed] {
    if (auto feed = weak_feed.lock()) {
      feed->request_keyframe();
    }
  };
  viewer->transport = transports_.create(name_ + "-" + id, std::move(events), error);
  if (!viewer->transport) {
    return {};
  }
  for (const auto &m : plan.media) {
    auto slot = pipeline_->slot_ptr(slot_for(m.kind));
    if (!slot) {
      *error = "the stream has no " + m.kind;
      return {};
    }
    // No key frame now: the viewer cannot receive one before it connects;
    // its transport asks for one then (on_keyframe_request).
    auto branch = slot->attach(make_feed_branch(viewer->feed, m.kind), error);
    if (!branch) {
      for (auto &[s, b] : viewer->branches) {
        s->detach(b);
      }
      return {};
    }
    viewer->branches.emplace_back(slot, branch);
  }
  {
    std::lock_guard lock(viewer->feed->mutex);
    viewer->feed->transport = viewer->transport.get();
    viewer->feed->keyframe = [this] { request_keyframe(); };
  }
  ViewerTransport *transport = viewer->transport.get();
  viewers_[id] = std::move(viewer);
  transport->answer(plan, options_.gather_timeout_ms, std::move(done));
  return id;
}

bool Stream::add_viewer_candidate(const std::string &viewer, unsigned mline,
                                  const std::string &candidate) {
  auto it = viewers_.find(viewer);
  if (it == viewers_.end()) {
    return false;
  }
  it->second->transport->add_candidate(mline, candidate);
  return true;
}

bool Stream::remove_viewer(const std::string &id) {
  auto it = viewers_.find(id);
  if (it == viewers_.end()) {
    return false;
  }
  std::unique_ptr<Viewer> viewer = std::move(it->second);
  viewers_.erase(it);
  {
    std::lock_guard lock(viewer->feed->mutex);
    viewer->feed->transport = nullptr;
    viewer->feed->keyframe = nullptr;
  }
  for (auto &[slot, branch] : viewer->branches) {
    slot->detach(branch);
  }
  // The transport may be the caller (its on_closed): destroy it afterwards.
  auto *raw = viewer.release();
  post_to(g_main_context_get_thread_default(), [raw] { delete raw; });
  return true;
}

std::vector<ViewerInfo> Stream::viewers() const {
  std::vector<ViewerInfo> out;
  for (const auto &[id, viewer] : viewers_) {
    out.push_back({id, viewer->since_unix, viewer->transport->stats()});
  }
  return out;
}

void Stream::end(const std::string &reason) {
  if (ended_) {
    return;
  }
  ended_ = true;
  idle_timer_->source.reset();
  std::weak_ptr<bool> alive = alive_;
  post_to(g_main_context_get_thread_default(), [this, alive, reason] {
    if (auto a = alive.lock(); a && *a && events_.on_ended) {
      events_.on_ended(reason);
    }
  });
}

}  // namespace livepipe::signaling::media
