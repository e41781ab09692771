/**
 * SECTION:element-lprecordbin
 * @title: lprecordbin
 *
 * Crash-safe recording of encoded audio and video, without re-encoding, into
 * segments of fragmented MP4 (or Matroska) below a root directory. Each
 * segment starts on a keyframe; segments rotate by duration and/or size; a
 * jump in the input's timestamps (a publisher that reconnects, an encoder
 * that restarts) starts a new segment instead of writing a broken file. The
 * files on disk only ever end after a whole fragment, so a process killed at
 * any moment leaves segments that players open, and at most the fragment
 * being written is lost. A manifest (JSON) lists the segments in order with
 * their times, and an element message "livepipe-recording-segment" is posted
 * for each finished segment.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e videotestsrc is-live=true ! x264enc tune=zerolatency key-int-max=15 \
 *   ! h264parse ! lprecordbin location=rec/seg-%05d.mp4
 * ]|
 */
#include "gstlprecordbin.h"

#include "gstlpsegmentsink.h"
#include "manifest.h"
#include "mp4boxes.h"
#include "safepath.h"
#include "util/gstptr.h"

#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_lp_record_bin_debug);
#define GST_CAT_DEFAULT gst_lp_record_bin_debug

namespace {

using livepipe::record::Manifest;
using livepipe::record::Root;
using livepipe::record::SegmentEntry;

enum LpRecordFormat { LP_RECORD_FORMAT_MP4, LP_RECORD_FORMAT_MKV };

constexpr const char *DEFAULT_PROP_LOCATION = "segment-%05d.mp4";
constexpr const char *DEFAULT_PROP_ROOT = ".";
constexpr guint64 DEFAULT_PROP_MAX_SIZE_TIME = 60 * GST_SECOND;
constexpr guint64 DEFAULT_PROP_MAX_SIZE_BYTES = 0;
constexpr guint DEFAULT_PROP_FRAGMENT_DURATION = 500;
constexpr guint MAX_FRAGMENT_DURATION = 1000;
constexpr guint64 DEFAULT_PROP_DISCONT_THRESHOLD = GST_SECOND;
constexpr guint64 kMaxIndexProbe = 1000000;
// The segment handed to the muxer starts here, so decode times up to this far
// before a stream's first presentation time (B-frame reordering, an MP4 edit
// list) remain representable as negative running times.
constexpr GstClockTimeDiff kDecodeLead = GST_SECOND;

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_ROOT,
  PROP_STREAM,
  PROP_MANIFEST,
  PROP_FORMAT,
  PROP_MAX_SIZE_TIME,
  PROP_MAX_SIZE_BYTES,
  PROP_FRAGMENT_DURATION,
  PROP_DISCONT_THRESHOLD,
};

// Per input pad: the upstream segment and the offset that keeps the
// timestamps handed to the muxer continuous across jumps.
struct PadContext {
  GstPad *ghost = nullptr;   // owned by the bin (element pad)
  GstPad *target = nullptr;  // splitmuxsink's request pad, one reference held
  bool video = false;
  GstSegment segment{};
  bool have_segment = false;
  bool sent_segment = false;
  bool sent_stream_start = false;
  bool started = false;
  GstClockTimeDiff offset = 0;
  GstClockTimeDiff last_time = 0;  // output running time (signed: decode times may precede 0)
  GstClockTimeDiff last_end = 0;
  bool waiting_keyframe = false;
  bool split_on_keyframe = false;
};

struct Settings {
  std::string location = DEFAULT_PROP_LOCATION;
  std::string root = DEFAULT_PROP_ROOT;
  std::string stream;
  std::string manifest;
  LpRecordFormat format = LP_RECORD_FORMAT_MP4;
  guint64 max_size_time = DEFAULT_PROP_MAX_SIZE_TIME;
  guint64 max_size_bytes = DEFAULT_PROP_MAX_SIZE_BYTES;
  guint fragment_duration = DEFAULT_PROP_FRAGMENT_DURATION;
  guint64 discont_threshold = DEFAULT_PROP_DISCONT_THRESHOLD;
};

struct RecordState {
  std::mutex lock;  // guards everything below
  Settings settings;
  GstElement *splitmux = nullptr;  // child of the bin
  GstElement *sink = nullptr;      // owned by splitmuxsink once set
  bool muxer_configured = false;
  std::vector<std::unique_ptr<PadContext>> pads;

  // One recording run (READY..READY).
  Settings active;
  std::shared_ptr<Root> root;
  std::string manifest_path;  // root-relative
  std::string manifest_dir;
  Manifest manifest;
  guint64 timeline_offset = 0;
  GstClockTime first_running_time = GST_CLOCK_TIME_NONE;
  GstClockTime pending_discont = GST_CLOCK_TIME_NONE;
  std::vector<std::pair<std::string, GstClockTime>> open_segments;
};

}  // namespace

struct _GstLpRecordBin {
  GstBin parent;
  RecordState *state;
};

GType gst_lp_record_format_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {LP_RECORD_FORMAT_MP4, "Fragmented MP4", "mp4"},
      {LP_RECORD_FORMAT_MKV, "Matroska", "mkv"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    GType registered = g_enum_register_static("GstLpRecordFormat", values);
    g_once_init_leave(&type, registered);
  }
  return type;
}

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS("video/x-h264; video/x-h265; video/x-vp8; video/x-vp9; video/x-av1"));
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST,
                            GST_STATIC_CAPS("audio/mpeg; audio/x-opus; audio/x-ac3; "
                                            "audio/x-alaw; audio/x-mulaw; audio/x-flac"));

G_DEFINE_TYPE(GstLpRecordBin, gst_lp_record_bin, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE(lprecordbin, "lprecordbin", GST_RANK_NONE, GST_TYPE_LP_RECORD_BIN)

static std::string expand_manifest(const Settings &settings, std::string *error) {
  std::string out;
  if (settings.manifest.empty()) {
    auto first = livepipe::record::expand_template(settings.location, settings.stream, 0, error);
    if (!first) {
      return {};
    }
    std::string dir = livepipe::record::parent_of(*first);
    out = dir.empty() ? "manifest.json" : dir + "/manifest.json";
  } else {
    out = settings.manifest;
    static constexpr std::string_view kStream = "{stream}";
    for (size_t pos = out.find(kStream); pos != std::string::npos; pos = out.find(kStream, pos)) {
      if (!livepipe::record::validate_stream_name(settings.stream, error)) {
        return {};
      }
      out.replace(pos, kStream.size(), settings.stream);
      pos += settings.stream.size();
    }
  }
  std::string why;
  if (!livepipe::record::validate_relative_path(out, &why)) {
    *error = "manifest '" + settings.manifest + "': " + why;
    return {};
  }
  return out;
}

static void write_manifest_locked(GstLpRecordBin *self) {
  auto *s = self->state;
  if (!s->root) {
    return;
  }
  std::string error;
  if (!s->root->write_atomic(s->manifest_path, livepipe::record::manifest_to_json(s->manifest),
                             &error)) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Cannot update the manifest: %s", error.c_str()),
                        (nullptr));
  }
}

// Duration of a segment cut short (crash, stop without EOS) from its fragments.
static void measure_segment(const Root &root, const std::string &manifest_dir,
                            SegmentEntry *entry) {
  std::string path = manifest_dir.empty() ? entry->path : manifest_dir + "/" + entry->path;
  if (auto size = root.file_size(path)) {
    entry->size = *size;
  }
  int fd = root.open_file(path, nullptr);
  if (fd < 0) {
    return;
  }
  livepipe::record::FragmentIndex index;
  if (livepipe::record::index_fragmented_mp4_fd(fd, &index, nullptr)) {
    entry->duration_ns = static_cast<uint64_t>(index.duration_seconds() * GST_SECOND);
  }
  ::close(fd);
}

static gchar *on_format_location(GstElement *, guint fragment_id, GstSample *, gpointer data) {
  auto *self = GST_LP_RECORD_BIN(data);
  std::lock_guard<std::mutex> guard(self->state->lock);
  const Settings &settings = self->state->active;
  std::string error;
  auto path =
      livepipe::record::expand_template(settings.location, settings.stream, fragment_id, &error);
  if (!path) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Invalid recording location: %s", error.c_str()),
                      (nullptr));
    return nullptr;
  }
  return g_strdup(path->c_str());
}

// Creates the muxer and the sink once the container is known (before the
// first pad is requested from splitmuxsink).
static void configure_muxer_locked(GstLpRecordBin *self) {
  auto *s = self->state;
  if (s->muxer_configured) {
    return;
  }
  s->muxer_configured = true;
  GstElement *muxer;
  if (s->settings.format == LP_RECORD_FORMAT_MKV) {
    muxer = gst_element_factory_make("matroskamux", nullptr);
    if (muxer) {
      g_object_set(muxer, "streamable", TRUE, "max-cluster-duration",
                   static_cast<gint64>(s->settings.fragment_duration) * GST_MSECOND, nullptr);
    }
  } else {
    muxer = gst_element_factory_make("mp4mux", nullptr);
    if (muxer) {
      g_object_set(muxer, "fragment-duration", s->settings.fragment_duration, "streamable", TRUE,
                   nullptr);
    }
  }
  if (!muxer) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN,
                      ("lprecordbin needs %s (gst-plugins-good)",
                       s->settings.format == LP_RECORD_FORMAT_MKV ? "matroskamux" : "mp4mux"),
                      (nullptr));
    return;
  }
  s->sink = GST_ELEMENT(g_object_new(GST_TYPE_LP_SEGMENT_SINK, nullptr));
  g_object_set(s->splitmux, "muxer", muxer, "sink", s->sink, nullptr);
}

static void push_discont_split(GstLpRecordBin *self, GstClockTime at) {
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    self->state->pending_discont = at;
  }
  GST_INFO_OBJECT(self, "timestamp discontinuity: new segment at %" GST_TIME_FORMAT,
                  GST_TIME_ARGS(at));
  g_signal_emit_by_name(self->state->splitmux, "split-at-running-time", static_cast<guint64>(at));
}

static GstPadProbeReturn handle_buffer(GstLpRecordBin *self, PadContext *ctx,
                                       GstPadProbeInfo *info) {
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!ctx->have_segment) {
    return GST_PAD_PROBE_DROP;
  }
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  GstClockTime dts = GST_BUFFER_DTS(buffer);
  GstClockTime ts = GST_CLOCK_TIME_IS_VALID(dts) ? dts : pts;
  if (!GST_CLOCK_TIME_IS_VALID(ts)) {
    return GST_PAD_PROBE_DROP;  // a muxer cannot place it
  }
  GstClockTime shown = GST_CLOCK_TIME_IS_VALID(pts) ? pts : ts;
  if (!GST_CLOCK_TIME_IS_VALID(
          gst_segment_to_running_time(&ctx->segment, GST_FORMAT_TIME, shown))) {
    return GST_PAD_PROBE_DROP;  // outside the segment
  }
  // A frame shown inside the segment may be decoded before its start.
  auto signed_running = [&](GstClockTime t, GstClockTimeDiff *out) {
    guint64 r = 0;
    int sign = gst_segment_to_running_time_full(&ctx->segment, GST_FORMAT_TIME, t, &r);
    if (sign == 0) {
      return false;
    }
    *out = sign > 0 ? static_cast<GstClockTimeDiff>(r) : -static_cast<GstClockTimeDiff>(r);
    return true;
  };
  GstClockTimeDiff running = 0;
  if (!signed_running(ts, &running) || running < -kDecodeLead) {
    return GST_PAD_PROBE_DROP;
  }
  bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  if (ctx->video && !ctx->started && !keyframe) {
    return GST_PAD_PROBE_DROP;  // a segment must start on a keyframe
  }
  guint64 threshold;
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    threshold = self->state->active.discont_threshold;
  }
  GstClockTimeDiff out = running + ctx->offset;
  if (ctx->started) {
    bool backwards = out < ctx->last_time;
    bool gap = out > ctx->last_end + static_cast<GstClockTimeDiff>(threshold);
    if (backwards || gap) {
      GST_INFO_OBJECT(self, "%s: timestamps jump from %" GST_STIME_FORMAT " to %" GST_STIME_FORMAT,
                      GST_PAD_NAME(ctx->ghost), GST_STIME_ARGS(ctx->last_time),
                      GST_STIME_ARGS(out));
      ctx->offset += ctx->last_end - out;
      out = ctx->last_end;
      if (ctx->video) {
        ctx->split_on_keyframe = true;
        ctx->waiting_keyframe = !keyframe;
      }
    }
  }
  if (ctx->video && ctx->waiting_keyframe) {
    if (!keyframe) {
      return GST_PAD_PROBE_DROP;  // undecodable until the next keyframe
    }
    ctx->waiting_keyframe = false;
  }
  if (ctx->video && ctx->split_on_keyframe && keyframe) {
    ctx->split_on_keyframe = false;
    push_discont_split(self, static_cast<GstClockTime>(std::max<GstClockTimeDiff>(0, out)));
  }
  ctx->started = true;

  GstClockTimeDiff shift = out - running;
  buffer = gst_buffer_make_writable(buffer);
  auto remap = [&](GstClockTime t) -> GstClockTime {
    GstClockTimeDiff r = 0;
    if (!GST_CLOCK_TIME_IS_VALID(t) || !signed_running(t, &r)) {
      return GST_CLOCK_TIME_NONE;
    }
    GstClockTimeDiff v = r + shift + kDecodeLead;
    return v < 0 ? 0 : static_cast<GstClockTime>(v);
  };
  GST_BUFFER_PTS(buffer) = remap(pts);
  GST_BUFFER_DTS(buffer) = remap(dts);
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  ctx->last_time = out;
  GstClockTime duration = GST_BUFFER_DURATION(buffer);
  ctx->last_end =
      out + (GST_CLOCK_TIME_IS_VALID(duration) ? static_cast<GstClockTimeDiff>(duration) : 0);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn handle_event(PadContext *ctx, GstPadProbeInfo *info) {
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment(event, &segment);
      if (segment->format != GST_FORMAT_TIME) {
        return GST_PAD_PROBE_DROP;  // only timed streams can be recorded
      }
      gst_segment_copy_into(segment, &ctx->segment);
      ctx->have_segment = true;
      if (ctx->sent_segment) {
        return GST_PAD_PROBE_DROP;  // timestamps are remapped into the first one
      }
      ctx->sent_segment = true;
      GstSegment out;
      gst_segment_init(&out, GST_FORMAT_TIME);
      out.start = out.position = static_cast<guint64>(kDecodeLead);
      GstEvent *replacement = gst_event_new_segment(&out);
      gst_event_set_seqnum(replacement, gst_event_get_seqnum(event));
      gst_event_unref(event);
      GST_PAD_PROBE_INFO_DATA(info) = replacement;
      return GST_PAD_PROBE_OK;
    }
    case GST_EVENT_STREAM_START:
      if (ctx->sent_stream_start) {
        return GST_PAD_PROBE_DROP;  // a restarted upstream continues this recording
      }
      ctx->sent_stream_start = true;
      return GST_PAD_PROBE_OK;
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_GAP:
      // Upstream flushes and gaps would reset or confuse the muxer; the
      // timestamp check turns what follows into a new segment if needed.
      return GST_PAD_PROBE_DROP;
    default:
      return GST_PAD_PROBE_OK;
  }
}

static GstPadProbeReturn on_pad_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *self = GST_LP_RECORD_BIN(gst_pad_get_parent_element(pad));
  if (!self) {
    return GST_PAD_PROBE_OK;
  }
  auto *ctx = static_cast<PadContext *>(data);
  GstPadProbeReturn ret;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    ret = handle_buffer(self, ctx, info);
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    ret = GST_PAD_PROBE_OK;
  } else {
    ret = handle_event(ctx, info);
  }
  gst_object_unref(self);
  return ret;
}

static GstPad *gst_lp_record_bin_request_new_pad(GstElement *element, GstPadTemplate *templ,
                                                 const gchar *name, const GstCaps *) {
  auto *self = GST_LP_RECORD_BIN(element);
  auto *s = self->state;
  bool video = g_str_equal(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "video");
  GstPad *target;
  std::string ghost_name;
  if (!s->splitmux) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN,
                      ("lprecordbin needs splitmuxsink (gst-plugins-good)"), (nullptr));
    return nullptr;
  }
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (video) {
      for (const auto &p : s->pads) {
        if (p->video) {
          GST_WARNING_OBJECT(self, "lprecordbin records one video stream");
          return nullptr;
        }
      }
    }
    configure_muxer_locked(self);
    target = gst_element_request_pad_simple(s->splitmux, video ? "video" : "audio_%u");
    if (!target) {
      return nullptr;
    }
    if (video) {
      ghost_name = "video";
    } else if (name) {
      ghost_name = name;
    } else {
      // splitmuxsink numbers its audio pads; ours follow the same numbers.
      gchar *target_name = gst_pad_get_name(target);
      ghost_name = target_name;
      g_free(target_name);
    }
  }
  GstPad *ghost = gst_ghost_pad_new_from_template(ghost_name.c_str(), target, templ);
  auto ctx = std::make_unique<PadContext>();
  ctx->ghost = ghost;
  ctx->target = target;
  ctx->video = video;
  gst_segment_init(&ctx->segment, GST_FORMAT_TIME);
  gst_pad_add_probe(ghost,
                    static_cast<GstPadProbeType>(
                        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                        GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                    on_pad_probe, ctx.get(), nullptr);
  {
    std::lock_guard<std::mutex> guard(s->lock);
    s->pads.push_back(std::move(ctx));
  }
  gst_pad_set_active(ghost, TRUE);
  gst_element_add_pad(element, ghost);
  return ghost;
}

static void gst_lp_record_bin_release_pad(GstElement *element, GstPad *pad) {
  auto *self = GST_LP_RECORD_BIN(element);
  auto *s = self->state;
  std::unique_ptr<PadContext> ctx;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    for (auto it = s->pads.begin(); it != s->pads.end(); ++it) {
      if ((*it)->ghost == pad) {
        ctx = std::move(*it);
        s->pads.erase(it);
        break;
      }
    }
  }
  if (!ctx) {
    return;
  }
  gst_pad_set_active(pad, FALSE);
  gst_element_remove_pad(element, pad);
  gst_element_release_request_pad(s->splitmux, ctx->target);
  gst_object_unref(ctx->target);
}

// READY: validate paths, open the root, continue or start the manifest.
static bool prepare_recording(GstLpRecordBin *self) {
  auto *s = self->state;
  if (!s->splitmux) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN,
                      ("lprecordbin needs splitmuxsink (gst-plugins-good)"), (nullptr));
    return false;
  }
  std::lock_guard<std::mutex> guard(s->lock);
  s->active = s->settings;
  const Settings &settings = s->active;
  std::string error;
  if (!livepipe::record::validate_template(settings.location, &error) ||
      !livepipe::record::expand_template(settings.location, settings.stream, 0, &error)) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Invalid recording location: %s", error.c_str()),
                      ("root '%s'", settings.root.c_str()));
    return false;
  }
  std::string manifest_path = expand_manifest(settings, &error);
  if (manifest_path.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Invalid recording manifest: %s", error.c_str()),
                      (nullptr));
    return false;
  }
  std::string manifest_dir = livepipe::record::parent_of(manifest_path);
  auto first = livepipe::record::expand_template(settings.location, settings.stream, 0, &error);
  if (livepipe::record::relative_to(manifest_dir, *first).rfind("../", 0) == 0) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                      ("Invalid recording manifest: '%s' must be in the segments' directory or "
                       "above it",
                       manifest_path.c_str()),
                      (nullptr));
    return false;
  }
  auto root = std::make_shared<Root>();
  if (!root->open(settings.root, true, &error)) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("%s", error.c_str()), (nullptr));
    return false;
  }

  if (!root->prepare_parent(*first, &error) || !root->prepare_parent(manifest_path, &error)) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot record: %s", error.c_str()), (nullptr));
    return false;
  }

  Manifest manifest;
  manifest.format = settings.format == LP_RECORD_FORMAT_MKV ? "mkv" : "mp4";
  manifest.stream = settings.stream;
  manifest.created = livepipe::record::utc_now();
  guint64 next_index = 0;
  int fd = root->open_file(manifest_path, nullptr);
  if (fd >= 0) {
    std::string text;
    char chunk[65536];
    ssize_t n;
    while ((n = ::read(fd, chunk, sizeof chunk)) > 0 && text.size() < (64u << 20)) {
      text.append(chunk, static_cast<size_t>(n));
    }
    ::close(fd);
    auto existing = livepipe::record::manifest_from_json(text, &error);
    if (!existing) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("The existing manifest '%s' is not valid (%s); not overwriting it",
                         root->join(manifest_path).c_str(), error.c_str()),
                        (nullptr));
      return false;
    }
    // Continue the recording after a restart (or a crash): earlier segments
    // stay, the timeline goes on after them.
    manifest = std::move(*existing);
    manifest.format = settings.format == LP_RECORD_FORMAT_MKV ? "mkv" : "mp4";
    for (auto &entry : manifest.segments) {
      if (!entry.complete && manifest.format == "mp4") {
        measure_segment(*root, manifest_dir, &entry);
      }
      next_index = std::max<guint64>(next_index, entry.index + 1);
    }
  }
  manifest.state = "recording";
  // Never overwrite a segment left by an earlier run.
  for (guint64 probes = 0; probes < kMaxIndexProbe; ++probes, ++next_index) {
    auto path =
        livepipe::record::expand_template(settings.location, settings.stream, next_index, &error);
    if (!path || !root->file_size(*path)) {
      break;
    }
  }
  s->root = root;
  s->manifest_path = manifest_path;
  s->manifest_dir = manifest_dir;
  s->manifest = std::move(manifest);
  s->timeline_offset = s->manifest.duration_ns();
  s->first_running_time = GST_CLOCK_TIME_NONE;
  s->pending_discont = GST_CLOCK_TIME_NONE;
  s->open_segments.clear();

  configure_muxer_locked(self);
  if (s->sink) {
    gst_lp_segment_sink_configure(GST_LP_SEGMENT_SINK(s->sink), root,
                                  settings.format == LP_RECORD_FORMAT_MKV
                                      ? LpSegmentContainer::kMatroska
                                      : LpSegmentContainer::kMp4);
  }
  g_object_set(s->splitmux, "start-index", static_cast<gint>(next_index), "max-size-time",
               settings.max_size_time, "max-size-bytes", settings.max_size_bytes, nullptr);
  for (auto &ctx : s->pads) {
    gst_segment_init(&ctx->segment, GST_FORMAT_TIME);
    ctx->have_segment = ctx->sent_segment = ctx->sent_stream_start = ctx->started = false;
    ctx->offset = 0;
    ctx->last_time = ctx->last_end = 0;
    ctx->waiting_keyframe = ctx->split_on_keyframe = false;
  }
  write_manifest_locked(self);
  return true;
}

static void finish_recording(GstLpRecordBin *self) {
  auto *s = self->state;
  std::lock_guard<std::mutex> guard(s->lock);
  if (!s->root) {
    return;
  }
  for (auto &entry : s->manifest.segments) {
    if (!entry.complete && s->manifest.format == "mp4") {
      measure_segment(*s->root, s->manifest_dir, &entry);
    }
  }
  s->manifest.state = "finished";
  write_manifest_locked(self);
  s->root.reset();
}

static void on_segment_opened(GstLpRecordBin *self, const std::string &location,
                              GstClockTime running_time) {
  auto *s = self->state;
  std::lock_guard<std::mutex> guard(s->lock);
  if (!s->root) {
    return;
  }
  if (!GST_CLOCK_TIME_IS_VALID(s->first_running_time)) {
    s->first_running_time = running_time;
  }
  SegmentEntry entry;
  std::string error;
  entry.path = livepipe::record::relative_to(s->manifest_dir, location);
  entry.index = s->manifest.segments.empty() ? 0 : s->manifest.segments.back().index + 1;
  // The file name's number is the authoritative index.
  for (guint64 i = entry.index; i < entry.index + kMaxIndexProbe; ++i) {
    auto path = livepipe::record::expand_template(s->active.location, s->active.stream, i, &error);
    if (path && *path == location) {
      entry.index = i;
      break;
    }
    if (!path) {
      break;
    }
  }
  entry.start_ns = s->timeline_offset + (running_time - s->first_running_time);
  entry.wallclock = livepipe::record::utc_now();
  bool first_of_run = s->open_segments.empty() && s->timeline_offset > 0 &&
                      !s->manifest.segments.empty() &&
                      s->manifest.segments.back().start_ns < s->timeline_offset;
  entry.discont = first_of_run || (GST_CLOCK_TIME_IS_VALID(s->pending_discont) &&
                                   running_time + GST_MSECOND >= s->pending_discont);
  if (entry.discont) {
    s->pending_discont = GST_CLOCK_TIME_NONE;
  }
  s->open_segments.emplace_back(location, running_time);
  s->manifest.segments.push_back(entry);
  write_manifest_locked(self);
}

static void on_segment_closed(GstLpRecordBin *self, const std::string &location,
                              GstClockTime running_time) {
  auto *s = self->state;
  GstStructure *structure = nullptr;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->root) {
      return;
    }
    GstClockTime opened = GST_CLOCK_TIME_NONE;
    for (auto it = s->open_segments.begin(); it != s->open_segments.end(); ++it) {
      if (it->first == location) {
        opened = it->second;
        s->open_segments.erase(it);
        break;
      }
    }
    std::string relative = livepipe::record::relative_to(s->manifest_dir, location);
    SegmentEntry *entry = nullptr;
    for (auto &e : s->manifest.segments) {
      if (e.path == relative && !e.complete) {
        entry = &e;
      }
    }
    if (!entry || !GST_CLOCK_TIME_IS_VALID(opened)) {
      return;
    }
    entry->duration_ns = running_time > opened ? running_time - opened : 0;
    entry->size = s->root->file_size(location).value_or(0);
    entry->complete = true;
    write_manifest_locked(self);
    std::string full_path = s->root->join(location);
    std::string manifest_path = s->root->join(s->manifest_path);
    structure = gst_structure_new(
        "livepipe-recording-segment", "path", G_TYPE_STRING, full_path.c_str(), "index",
        G_TYPE_UINT64, static_cast<guint64>(entry->index), "start", G_TYPE_UINT64,
        static_cast<guint64>(entry->start_ns), "duration", G_TYPE_UINT64,
        static_cast<guint64>(entry->duration_ns), "size", G_TYPE_UINT64,
        static_cast<guint64>(entry->size), "discont", G_TYPE_BOOLEAN, entry->discont, "manifest",
        G_TYPE_STRING, manifest_path.c_str(), nullptr);
  }
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), structure));
}

static void gst_lp_record_bin_handle_message(GstBin *bin, GstMessage *message) {
  auto *self = GST_LP_RECORD_BIN(bin);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
      GST_MESSAGE_SRC(message) == GST_OBJECT(self->state->splitmux)) {
    const GstStructure *structure = gst_message_get_structure(message);
    const gchar *location = gst_structure_get_string(structure, "location");
    GstClockTime running_time = GST_CLOCK_TIME_NONE;
    gst_structure_get_clock_time(structure, "running-time", &running_time);
    if (location && GST_CLOCK_TIME_IS_VALID(running_time)) {
      if (gst_structure_has_name(structure, "splitmuxsink-fragment-opened")) {
        on_segment_opened(self, location, running_time);
      } else if (gst_structure_has_name(structure, "splitmuxsink-fragment-closed")) {
        on_segment_closed(self, location, running_time);
      }
    }
  }
  GST_BIN_CLASS(gst_lp_record_bin_parent_class)->handle_message(bin, message);
}

static GstStateChangeReturn gst_lp_record_bin_change_state(GstElement *element,
                                                           GstStateChange transition) {
  auto *self = GST_LP_RECORD_BIN(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !prepare_recording(self)) {
    return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_lp_record_bin_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    finish_recording(self);
  }
  return ret;
}

static void gst_lp_record_bin_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  auto *self = GST_LP_RECORD_BIN(object);
  std::lock_guard<std::mutex> guard(self->state->lock);
  Settings &settings = self->state->settings;
  auto text = [&]() {
    const char *v = g_value_get_string(value);
    return std::string(v ? v : "");
  };
  switch (prop_id) {
    case PROP_LOCATION:
      settings.location = text();
      break;
    case PROP_ROOT:
      settings.root = text();
      break;
    case PROP_STREAM:
      settings.stream = text();
      break;
    case PROP_MANIFEST:
      settings.manifest = text();
      break;
    case PROP_FORMAT:
      if (self->state->muxer_configured) {
        GST_WARNING_OBJECT(self, "format must be set before pads are requested");
      } else {
        settings.format = static_cast<LpRecordFormat>(g_value_get_enum(value));
      }
      break;
    case PROP_MAX_SIZE_TIME:
      settings.max_size_time = g_value_get_uint64(value);
      break;
    case PROP_MAX_SIZE_BYTES:
      settings.max_size_bytes = g_value_get_uint64(value);
      break;
    case PROP_FRAGMENT_DURATION:
      if (self->state->muxer_configured) {
        GST_WARNING_OBJECT(self, "fragment-duration must be set before pads are requested");
      } else {
        settings.fragment_duration = g_value_get_uint(value);
      }
      break;
    case PROP_DISCONT_THRESHOLD:
      settings.discont_threshold = g_value_get_uint64(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_record_bin_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  auto *self = GST_LP_RECORD_BIN(object);
  std::lock_guard<std::mutex> guard(self->state->lock);
  const Settings &settings = self->state->settings;
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string(value, settings.location.c_str());
      break;
    case PROP_ROOT:
      g_value_set_string(value, settings.root.c_str());
      break;
    case PROP_STREAM:
      g_value_set_string(value, settings.stream.c_str());
      break;
    case PROP_MANIFEST:
      g_value_set_string(value, settings.manifest.c_str());
      break;
    case PROP_FORMAT:
      g_value_set_enum(value, settings.format);
      break;
    case PROP_MAX_SIZE_TIME:
      g_value_set_uint64(value, settings.max_size_time);
      break;
    case PROP_MAX_SIZE_BYTES:
      g_value_set_uint64(value, settings.max_size_bytes);
      break;
    case PROP_FRAGMENT_DURATION:
      g_value_set_uint(value, settings.fragment_duration);
      break;
    case PROP_DISCONT_THRESHOLD:
      g_value_set_uint64(value, settings.discont_threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_record_bin_finalize(GObject *object) {
  auto *self = GST_LP_RECORD_BIN(object);
  for (auto &ctx : self->state->pads) {
    gst_object_unref(ctx->target);
  }
  if (self->state->splitmux) {
    gst_object_unref(self->state->splitmux);
  }
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_record_bin_parent_class)->finalize(object);
}

static void gst_lp_record_bin_class_init(GstLpRecordBinClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBinClass *bin_class = GST_BIN_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(gst_lp_record_bin_debug, "lprecordbin", 0, "livepipe recorder");

  gobject_class->set_property = gst_lp_record_bin_set_property;
  gobject_class->get_property = gst_lp_record_bin_get_property;
  gobject_class->finalize = gst_lp_record_bin_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Segment path template below the root, with one segment number "
                          "directive (%05d) and optionally {stream}",
                          DEFAULT_PROP_LOCATION, flags));
  g_object_class_install_property(
      gobject_class, PROP_ROOT,
      g_param_spec_string("root", "Root",
                          "Directory every file of the recording stays below (created if missing)",
                          DEFAULT_PROP_ROOT, flags));
  g_object_class_install_property(
      gobject_class, PROP_STREAM,
      g_param_spec_string("stream", "Stream name",
                          "Substituted for {stream} in location and manifest; one file name of "
                          "[A-Za-z0-9._-]",
                          "", flags));
  g_object_class_install_property(
      gobject_class, PROP_MANIFEST,
      g_param_spec_string("manifest", "Manifest",
                          "Manifest path below the root (empty: manifest.json beside the "
                          "segments); an existing manifest is continued",
                          "", flags));
  g_object_class_install_property(
      gobject_class, PROP_FORMAT,
      g_param_spec_enum("format", "Format",
                        "Container of the segments (set before requesting pads)",
                        GST_TYPE_LP_RECORD_FORMAT, LP_RECORD_FORMAT_MP4, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_SIZE_TIME,
      g_param_spec_uint64("max-size-time", "Max segment duration",
                          "Start a new segment at the first keyframe after this (ns, 0 = no limit)",
                          0, G_MAXUINT64, DEFAULT_PROP_MAX_SIZE_TIME, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_SIZE_BYTES,
      g_param_spec_uint64("max-size-bytes", "Max segment size",
                          "Start a new segment before this size is exceeded (bytes, 0 = no limit)",
                          0, G_MAXUINT64, DEFAULT_PROP_MAX_SIZE_BYTES, flags));
  g_object_class_install_property(
      gobject_class, PROP_FRAGMENT_DURATION,
      g_param_spec_uint("fragment-duration", "Fragment duration",
                        "Fragment (MP4) or cluster (Matroska) duration in ms: what a crash can "
                        "lose at most (set before requesting pads)",
                        100, MAX_FRAGMENT_DURATION, DEFAULT_PROP_FRAGMENT_DURATION, flags));
  g_object_class_install_property(
      gobject_class, PROP_DISCONT_THRESHOLD,
      g_param_spec_uint64("discont-threshold", "Discontinuity threshold",
                          "A forward timestamp gap larger than this (ns), or any backward jump, "
                          "starts a new segment",
                          1, G_MAXUINT64, DEFAULT_PROP_DISCONT_THRESHOLD, flags));

  gst_element_class_set_static_metadata(
      element_class, "livepipe crash-safe recorder", "Generic/Bin/Muxer",
      "Records encoded audio and video into crash-safe fragmented MP4 or Matroska segments "
      "with a manifest",
      "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &video_template);
  gst_element_class_add_static_pad_template(element_class, &audio_template);
  element_class->request_new_pad = GST_DEBUG_FUNCPTR(gst_lp_record_bin_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR(gst_lp_record_bin_release_pad);
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_lp_record_bin_change_state);
  bin_class->handle_message = GST_DEBUG_FUNCPTR(gst_lp_record_bin_handle_message);
  gst_type_mark_as_plugin_api(GST_TYPE_LP_RECORD_FORMAT, static_cast<GstPluginAPIFlags>(0));
}

static void gst_lp_record_bin_init(GstLpRecordBin *self) {
  self->state = new RecordState();
  self->state->splitmux = gst_element_factory_make("splitmuxsink", "splitmux");
  if (self->state->splitmux) {
    g_signal_connect(self->state->splitmux, "format-location-full", G_CALLBACK(on_format_location),
                     self);
    // Our own reference: request pads are released after the bin has
    // dropped its children.
    gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(self->state->splitmux)));
  }
}
