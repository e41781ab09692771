#include "gstlpsegmentsink.h"

#include "mp4boxes.h"
#include "util/gstptr.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_lp_segment_sink_debug);
#define GST_CAT_DEFAULT gst_lp_segment_sink_debug

namespace {

enum { PROP_0, PROP_LOCATION };

constexpr uint8_t kClusterId[4] = {0x1F, 0x43, 0xB6, 0x75};

struct SegmentSinkState {
  std::mutex lock;  // guards location, root and container
  std::string location;
  std::shared_ptr<const livepipe::record::Root> root;
  LpSegmentContainer container = LpSegmentContainer::kMp4;

  // Streaming-thread state.
  int fd = -1;
  std::vector<uint8_t> pending;
  livepipe::record::FragmentGate gate;
  size_t clusters_seen = 0;
  size_t last_cluster_start = 0;  // offset into `pending`
  bool passthrough = false;       // after a seek: write everything as it comes
  std::string open_location;
};

}  // namespace

struct _GstLpSegmentSink {
  GstBaseSink parent;
  SegmentSinkState *state;
};

G_DEFINE_TYPE(GstLpSegmentSink, gst_lp_segment_sink, GST_TYPE_BASE_SINK)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

void gst_lp_segment_sink_configure(GstLpSegmentSink *sink,
                                   std::shared_ptr<const livepipe::record::Root> root,
                                   LpSegmentContainer container) {
  std::lock_guard<std::mutex> guard(sink->state->lock);
  sink->state->root = std::move(root);
  sink->state->container = container;
}

// Writes the first `count` pending bytes, creating the file on first use.
static bool write_pending(GstLpSegmentSink *self, size_t count) {
  auto *s = self->state;
  if (count == 0) {
    return true;
  }
  if (s->fd < 0) {
    std::shared_ptr<const livepipe::record::Root> root;
    std::string location;
    {
      std::lock_guard<std::mutex> guard(s->lock);
      root = s->root;
      location = s->location;
    }
    std::string error = "the sink has no recording root";
    s->fd = root ? root->create_file(location, &error) : -1;
    if (s->fd < 0) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot record: %s", error.c_str()),
                        (nullptr));
      return false;
    }
    s->open_location = location;
  }
  size_t done = 0;
  while (done < count) {
    ssize_t n = ::write(s->fd, s->pending.data() + done, count - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      GST_ELEMENT_ERROR(self, RESOURCE, WRITE,
                        ("Cannot write recording segment '%s': %s", s->open_location.c_str(),
                         std::strerror(errno)),
                        (nullptr));
      return false;
    }
    done += static_cast<size_t>(n);
  }
  s->pending.erase(s->pending.begin(), s->pending.begin() + static_cast<ptrdiff_t>(count));
  s->gate.consumed(count);
  s->last_cluster_start = s->last_cluster_start > count ? s->last_cluster_start - count : 0;
  return true;
}

static size_t writable_now(SegmentSinkState *s) {
  if (s->passthrough) {
    return s->pending.size();
  }
  if (s->container == LpSegmentContainer::kMatroska) {
    // Everything before the newest cluster is whole; the header alone is not
    // worth a file, so wait for the second cluster to begin.
    return s->clusters_seen >= 2 ? s->last_cluster_start : 0;
  }
  if (s->gate.invalid()) {
    return s->pending.size();
  }
  // mp4mux opens a file with a tiny fragment that may hold a single audio
  // frame; a file is only created once a second fragment brings every track.
  if (s->fd < 0 && s->gate.fragments() < 2) {
    return 0;
  }
  return s->gate.writable();
}

static GstFlowReturn gst_lp_segment_sink_render(GstBaseSink *sink, GstBuffer *buffer) {
  auto *self = GST_LP_SEGMENT_SINK(sink);
  auto *s = self->state;
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, RESOURCE, READ, ("Cannot map buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  size_t begin = s->pending.size();
  if (s->container == LpSegmentContainer::kMatroska && map.size >= 4 &&
      std::memcmp(map.data, kClusterId, 4) == 0) {
    ++s->clusters_seen;
    s->last_cluster_start = begin;
  }
  s->pending.insert(s->pending.end(), map.data, map.data + map.size);
  gst_buffer_unmap(buffer, &map);
  if (s->container == LpSegmentContainer::kMp4 && !s->passthrough) {
    s->gate.scan(s->pending.data(), s->pending.size());
    if (s->gate.invalid()) {
      GST_WARNING_OBJECT(self, "not an MP4 box stream; writing through");
    }
  }
  return write_pending(self, writable_now(s)) ? GST_FLOW_OK : GST_FLOW_ERROR;
}

static gboolean gst_lp_segment_sink_event(GstBaseSink *sink, GstEvent *event) {
  auto *self = GST_LP_SEGMENT_SINK(sink);
  auto *s = self->state;
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    if (!write_pending(self, s->pending.size())) {
      gst_event_unref(event);
      return FALSE;
    }
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
    const GstSegment *segment;
    gst_event_parse_segment(event, &segment);
    if (segment->format == GST_FORMAT_BYTES && s->fd >= 0) {
      // A muxer going back to patch its header: write what we hold, then seek.
      off_t end = ::lseek(s->fd, 0, SEEK_END);
      if (static_cast<uint64_t>(end) + s->pending.size() != segment->start) {
        write_pending(self, s->pending.size());
        ::lseek(s->fd, static_cast<off_t>(segment->start), SEEK_SET);
        s->passthrough = true;
      }
    }
  }
  return GST_BASE_SINK_CLASS(gst_lp_segment_sink_parent_class)->event(sink, event);
}

static gboolean gst_lp_segment_sink_start(GstBaseSink *sink) {
  auto *s = GST_LP_SEGMENT_SINK(sink)->state;
  s->fd = -1;
  s->pending.clear();
  s->gate = livepipe::record::FragmentGate();
  s->clusters_seen = 0;
  s->last_cluster_start = 0;
  s->passthrough = false;
  return TRUE;
}

static gboolean gst_lp_segment_sink_stop(GstBaseSink *sink) {
  auto *self = GST_LP_SEGMENT_SINK(sink);
  auto *s = self->state;
  // Stopped without EOS: keep only whole units, as a crash would.
  write_pending(self, writable_now(s));
  s->pending.clear();
  if (s->fd >= 0) {
    ::close(s->fd);
    s->fd = -1;
  }
  return TRUE;
}

static gboolean gst_lp_segment_sink_query(GstBaseSink *sink, GstQuery *query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_SEEKING) {
    // Muxers must not plan to rewrite headers: the file is append-only.
    GstFormat format;
    gst_query_parse_seeking(query, &format, nullptr, nullptr, nullptr);
    gst_query_set_seeking(query, format, FALSE, 0, -1);
    return TRUE;
  }
  return GST_BASE_SINK_CLASS(gst_lp_segment_sink_parent_class)->query(sink, query);
}

static void gst_lp_segment_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_LP_SEGMENT_SINK(object);
  if (prop_id == PROP_LOCATION) {
    std::lock_guard<std::mutex> guard(self->state->lock);
    const char *location = g_value_get_string(value);
    self->state->location = location ? location : "";
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_lp_segment_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_LP_SEGMENT_SINK(object);
  if (prop_id == PROP_LOCATION) {
    std::lock_guard<std::mutex> guard(self->state->lock);
    g_value_set_string(value, self->state->location.c_str());
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_lp_segment_sink_finalize(GObject *object) {
  auto *self = GST_LP_SEGMENT_SINK(object);
  if (self->state->fd >= 0) {
    ::close(self->state->fd);
  }
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_segment_sink_parent_class)->finalize(object);
}

static void gst_lp_segment_sink_class_init(GstLpSegmentSinkClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(gst_lp_segment_sink_debug, "lpsegmentsink", 0,
                          "livepipe recording segment sink");
  gobject_class->set_property = gst_lp_segment_sink_set_property;
  gobject_class->get_property = gst_lp_segment_sink_get_property;
  gobject_class->finalize = gst_lp_segment_sink_finalize;
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location", "Segment path relative to the recording root",
                          nullptr,
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  gst_element_class_set_static_metadata(element_class, "livepipe segment sink", "Sink/File",
                                        "Writes whole fragments of a recording segment",
                                        "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  sink_class->render = GST_DEBUG_FUNCPTR(gst_lp_segment_sink_render);
  sink_class->event = GST_DEBUG_FUNCPTR(gst_lp_segment_sink_event);
  sink_class->start = GST_DEBUG_FUNCPTR(gst_lp_segment_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR(gst_lp_segment_sink_stop);
  sink_class->query = GST_DEBUG_FUNCPTR(gst_lp_segment_sink_query);
}

static void gst_lp_segment_sink_init(GstLpSegmentSink *self) {
  self->state = new SegmentSinkState();
  gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
  gst_base_sink_set_async_enabled(GST_BASE_SINK(self), FALSE);
}
