#include "recorder.h"

#include "manifest.h"
#include "util/gstptr.h"
#include "util/maincontext.h"

#include <gst/app/app.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace livepipe::signaling::recording {
namespace {

// Gives up waiting for the recorder to finish its segment after this long.
constexpr guint kFinishTimeoutMs = 10000;

const char *slot_for(const std::string &kind) {
  return kind == "video" ? "video-rtp" : "audio-rtp";
}

// What the stream's appsinks push into; cleared before the recorder's
// pipeline goes away so a late packet never reaches a freed appsrc.
struct Feed {
  std::mutex mutex;
  GstPtr<GstElement> appsrc;

  void push(GstSample *sample) {
    std::lock_guard lock(mutex);
    if (!appsrc) {
      return;
    }
    GstBuffer *buffer = gst_sample_get_buffer(sample);
    const GstSegment *segment = gst_sample_get_segment(sample);
    if (!buffer || !segment) {
      return;
    }
    // The stream's running time: the recorder's pipeline has its own segment
    // starting at 0, and lprecordbin makes the recording start at 0.
    GstClockTime pts =
        gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    if (!GST_CLOCK_TIME_IS_VALID(pts)) {
      return;
    }
    GstCaps *caps = gst_sample_get_caps(sample);
    MiniPtr<GstCaps> current(gst_app_src_get_caps(GST_APP_SRC(appsrc.get())));
    if (caps && (!current || !gst_caps_is_equal(caps, current.get()))) {
      gst_app_src_set_caps(GST_APP_SRC(appsrc.get()), caps);
    }
    // The buffer is shared with the viewers: copy its metadata, not its data.
    GstBuffer *copy = gst_buffer_copy(buffer);
    GST_BUFFER_PTS(copy) = pts;
    GST_BUFFER_DTS(copy) = GST_CLOCK_TIME_NONE;
    gst_app_src_push_buffer(GST_APP_SRC(appsrc.get()), copy);
  }
};

GstElement *make_feed_branch(const std::shared_ptr<Feed> &feed) {
  GstElement *appsink = gst_element_factory_make("appsink", nullptr);
  g_object_set(appsink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, "max-buffers",
               guint(256), "drop", TRUE, nullptr);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
    auto *feed = static_cast<std::shared_ptr<Feed> *>(data);
    if (GstSample *sample = gst_app_sink_pull_sample(sink)) {
      (*feed)->push(sample);
      gst_sample_unref(sample);
    }
    return GST_FLOW_OK;
  };
  gst_app_sink_set_callbacks(
      GST_APP_SINK(appsink), &callbacks, new std::shared_ptr<Feed>(feed),
      [](gpointer data) { delete static_cast<std::shared_ptr<Feed> *>(data); });
  return appsink;
}

// The depayloader, parser and caps that turn the slot's RTP into what
// lprecordbin takes.
const char *depayloader_for(media::Codec codec, const char **parser, const char **caps) {
  *parser = "identity";
  switch (codec) {
    case media::Codec::kH264:
      // The parser puts the picture size in the caps, which the MP4 muxer needs.
      *parser = "h264parse";
      *caps = "video/x-h264,stream-format=avc,alignment=au";
      return "rtph264depay";
    case media::Codec::kVP8:
      *caps = "video/x-vp8";
      return "rtpvp8depay";
    case media::Codec::kOpus:
      *caps = "audio/x-opus";
      return "rtpopusdepay";
  }
  return nullptr;
}

uint64_t uint_field(const GstStructure *s, const char *name) {
  guint64 value = 0;
  gst_structure_get_uint64(s, name, &value);
  return value;
}

}  // namespace

struct Recorder::Impl {
  Events events;
  GstPtr<GstElement> pipeline;
  GstElement *recordbin = nullptr;  // owned by the pipeline
  std::vector<std::shared_ptr<Feed>> feeds;
  std::vector<std::pair<std::shared_ptr<pipelines::Slot>, pipelines::BranchPtr>> branches;
  guint bus_watch = 0;
  SourceGuard finish_timeout;
  bool stopping = false;
  bool finished = false;
  std::string manifest;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void clear_feeds() {
    for (auto &feed : feeds) {
      std::lock_guard lock(feed->mutex);
      feed->appsrc.reset();
    }
  }

  void finish(const std::string &error) {
    if (finished) {
      return;
    }
    finished = true;
    finish_timeout.reset();
    clear_feeds();
    if (pipeline) {
      // READY -> NULL closes the open segment and marks the manifest finished.
      gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    }
    if (events.on_finished) {
      events.on_finished(error);
    }
  }

  void end_input() {
    if (stopping) {
      return;
    }
    stopping = true;
    std::vector<GstPtr<GstElement>> sources;
    for (auto &feed : feeds) {
      std::lock_guard lock(feed->mutex);
      if (feed->appsrc) {
        sources.push_back(std::move(feed->appsrc));
      }
    }
    for (auto &src : sources) {
      gst_app_src_end_of_stream(GST_APP_SRC(src.get()));
    }
    std::weak_ptr<bool> weak = alive;
    finish_timeout =
        add_timeout(g_main_context_get_thread_default(), kFinishTimeoutMs, [this, weak] {
          if (weak.lock()) {
            finish("");
          }
          return false;
        });
  }

  void on_message(GstMessage *message) {
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_EOS:
        finish("");
        break;
      case GST_MESSAGE_ERROR: {
        GError *gerror = nullptr;
        gst_message_parse_error(message, &gerror, nullptr);
        std::string text = gerror ? gerror->message : "recorder error";
        g_clear_error(&gerror);
        finish("the recorder failed: " + text);
        break;
      }
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(message);
        if (!gst_structure_has_name(s, "livepipe-recording-segment") || !events.on_segment) {
          break;
        }
        SegmentRow row;
        row.index = uint_field(s, "index");
        row.start_ns = uint_field(s, "start");
        row.duration_ns = uint_field(s, "duration");
        row.size = uint_field(s, "size");
        gboolean discont = FALSE;
        gst_structure_get_boolean(s, "discont", &discont);
        row.discont = discont;
        row.complete = true;
        const char *path = gst_structure_get_string(s, "path");
        row.path = path ? std::filesystem::path(path).filename().string() : "";
        // The manifest has the rest (its wall clock time, its relative path).
        std::ifstream in(manifest, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        std::string why;
        if (auto m = record::manifest_from_json(text.str(), &why)) {
          for (const auto &entry : m->segments) {
            if (entry.index == row.index) {
              row.path = entry.path;
              row.wallclock = entry.wallclock;
            }
          }
        }
        events.on_segment(row);
        break;
      }
      default:
        break;
    }
  }
};

Recorder::Recorder(RecorderOptions options, Events events)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->events = std::move(events);
  impl_->manifest =
      (std::filesystem::path(options_.root) / options_.directory / "manifest.json").string();
}

Recorder::~Recorder() {
  *impl_->alive = false;
  impl_->clear_feeds();
  impl_->finish_timeout.reset();
  if (impl_->bus_watch) {
    g_source_remove(impl_->bus_watch);
  }
  if (impl_->pipeline) {
    gst_element_set_state(impl_->pipeline.get(), GST_STATE_NULL);
  }
}

std::string Recorder::manifest_path() const {
  return impl_->manifest;
}

bool Recorder::start(media::Stream &stream, std::string *error) {
  Impl &s = *impl_;
  s.pipeline = sink(gst_pipeline_new(("recorder-" + options_.stream).c_str()));
  s.recordbin = gst_element_factory_make("lprecordbin", "record");
  if (!s.recordbin) {
    *error = "the lprecordbin element is not available (livepipe plugin not found)";
    return false;
  }
  // MP4 (mp4mux) cannot hold VP8: a VP8 stream records to Matroska whatever
  // the setting says.
  for (const auto &m : stream.publisher_plan().media) {
    if (m.codec == media::Codec::kVP8) {
      options_.format = "mkv";
    }
  }
  std::string extension = options_.format == "mkv" ? "mkv" : "mp4";
  gst_util_set_object_arg(G_OBJECT(s.recordbin), "format", options_.format.c_str());
  g_object_set(s.recordbin, "root", options_.root.c_str(), "stream", options_.stream.c_str(),
               "location", (options_.directory + "/seg-%05d." + extension).c_str(), "max-size-time",
               guint64(options_.segment_ns), "fragment-duration", guint(options_.fragment_ms),
               nullptr);
  gst_bin_add(GST_BIN(s.pipeline.get()), s.recordbin);

  std::vector<std::pair<std::string, std::shared_ptr<Feed>>> tracks;
  for (const auto &m : stream.publisher_plan().media) {
    const char *caps_text = nullptr;
    const char *parser_name = nullptr;
    const char *depay_name = depayloader_for(m.codec, &parser_name, &caps_text);
    GstElement *src = gst_element_factory_make("appsrc", nullptr);
    GstElement *depay = depay_name ? gst_element_factory_make(depay_name, nullptr) : nullptr;
    GstElement *parser = gst_element_factory_make(parser_name, nullptr);
    GstElement *filter = gst_element_factory_make("capsfilter", nullptr);
    if (!src || !depay || !parser || !filter) {
      *error = std::string("cannot record ") + media::codec_name(m.codec) + " " + m.kind +
               " (missing GStreamer elements)";
      return false;
    }
    g_object_set(src, "format", GST_FORMAT_TIME, "is-live", TRUE, "do-timestamp", FALSE, "block",
                 FALSE, "max-bytes", guint64(16 * 1024 * 1024), nullptr);
    gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
    MiniPtr<GstCaps> caps(gst_caps_from_string(caps_text));
    g_object_set(filter, "caps", caps.get(), nullptr);
    gst_bin_add_many(GST_BIN(s.pipeline.get()), src, depay, parser, filter, nullptr);
    GstPad *target =
        gst_element_request_pad_simple(s.recordbin, m.kind == "video" ? "video" : "audio_%u");
    GstPtr<GstPad> filter_src(gst_element_get_static_pad(filter, "src"));
    bool linked = target && gst_element_link_many(src, depay, parser, filter, nullptr) &&
                  gst_pad_link(filter_src.get(), target) == GST_PAD_LINK_OK;
    if (target) {
      gst_object_unref(target);
    }
    if (!linked) {
      *error = "cannot link the recorder for the " + m.kind;
      return false;
    }
    auto feed = std::make_shared<Feed>();
    feed->appsrc = ref(src);
    s.feeds.push_back(feed);
    tracks.emplace_back(m.kind, feed);
  }
  if (tracks.empty()) {
    *error = "the stream has no media to record";
    return false;
  }
  GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(s.pipeline.get())));
  s.bus_watch = gst_bus_add_watch(
      bus.get(),
      [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
        static_cast<Impl *>(data)->on_message(message);
        return G_SOURCE_CONTINUE;
      },
      impl_.get());
  if (gst_element_set_state(s.pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "the recorder did not start (see the log; is the recordings directory writable?)";
    if (MiniPtr<GstMessage> m{gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR)}) {
      GError *gerror = nullptr;
      gst_message_parse_error(m.get(), &gerror, nullptr);
      if (gerror) {
        *error = std::string("the recorder did not start: ") + gerror->message;
      }
      g_clear_error(&gerror);
    }
    s.finished = true;
    return false;
  }
  for (auto &[kind, feed] : tracks) {
    auto slot = stream.slot(slot_for(kind));
    if (!slot) {
      *error = std::string("the stream's description has no slot ") + slot_for(kind);
      stop();
      return false;
    }
    // A key frame at once, so the recording starts now and not at the
    // publisher's next one.
    auto branch =
        slot->attach(make_feed_branch(feed), error, {.request_keyframe = kind == "video"});
    if (!branch) {
      stop();
      return false;
    }
    s.branches.emplace_back(std::move(slot), std::move(branch));
  }
  return true;
}

void Recorder::stop() {
  for (auto &[slot, branch] : impl_->branches) {
    slot->detach(branch);
  }
  impl_->branches.clear();
  impl_->end_input();
}

void Recorder::stream_ending() {
  // The stream's pipeline (with our appsinks) is about to be destroyed.
  impl_->branches.clear();
  impl_->end_input();
}

}  // namespace livepipe::signaling::recording
