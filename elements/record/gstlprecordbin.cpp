/**
 * SECTION:element-lprecordbin
 * @title: lprecordbin
 *
 * Crash-safe recording of encoded audio and video, without re-encoding, into
 * segments of fragmented MP4 (or Matroska) below a root directory. Each
 * segment starts on a keyframe; segments rotate by duration and/or size; a
 * jump in the input's timestamps (a publisher that reconnects, an encoder
 * that restarts) starts a new segment instead of writing a broken file. Every
 * buffer goes to the segment's muxer as it arrives (nothing waits for the
 * next keyframe), and the files on disk only ever end after a whole fragment,
 * so a process killed at any moment leaves segments that players open, and at
 * most about the fragment being written is lost, whatever the keyframe
 * interval. A manifest (JSON) lists the segments in order with their times,
 * and an element message "livepipe-recording-segment" is posted for each
 * finished segment.
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

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_lp_record_bin_debug);
#define GST_CAT_DEFAULT gst_lp_record_bin_debug

namespace {

using livepipe::GstPtr;
using livepipe::MiniPtr;
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
// Timestamps of live sources wander by a little: a keyframe this close to
// the duration limit already ends the segment.
constexpr GstClockTimeDiff kLimitTolerance = 10 * GST_MSECOND;

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

// Per input pad: the upstream segment, the offset that keeps the timestamps
// handed to the muxers continuous across jumps, and the sticky events every
// new segment's muxer must see before the input's first buffer.
struct PadContext {
  GstPad *pad = nullptr;  // our sink pad, owned by the bin (element pad)
  bool video = false;
  GstSegment segment{};
  bool have_segment = false;
  bool started = false;
  GstClockTimeDiff offset = 0;
  GstClockTimeDiff last_time = 0;  // output running time (signed: decode times may precede 0)
  GstClockTimeDiff last_end = 0;
  bool waiting_keyframe = false;
  bool split_on_keyframe = false;
  // Guarded by RecordState::lock.
  MiniPtr<GstEvent> stream_start;
  MiniPtr<GstEvent> caps;
  MiniPtr<GstEvent> tags;
  GstClockTimeDiff routed_time = G_MININT64;  // output time of the last buffer routed
  bool eos = false;
};

// One input's way into one segment's muxer: an unparented source pad of ours
// linked to a request pad of the muxer.
struct SegmentInput {
  PadContext *input = nullptr;
  GstPtr<GstPad> src;
  GstPtr<GstPad> muxer_pad;
  bool primed = false;  // stream-start, caps and segment sent
  bool eos = false;
};

// One file: a muxer and a segment sink, children of the bin while attached.
struct Segment {
  GstPtr<GstElement> muxer;
  GstPtr<GstElement> sink;
  std::string location;  // root-relative
  guint64 index = 0;
  bool attached = false;
  bool opened = false;  // has a manifest entry
  bool discont = false;
  bool closing = false;  // a newer segment took over at switch_time
  bool finished = false;
  GstClockTimeDiff start = 0;
  GstClockTimeDiff switch_time = 0;
  GstClockTimeDiff end = 0;
  guint64 bytes = 0;
  guint64 bytes_at_keyframe = 0;
  std::vector<SegmentInput> inputs;

  SegmentInput *input_of(const PadContext *ctx) {
    for (auto &in : inputs) {
      if (in.input == ctx) {
        return &in;
      }
    }
    return nullptr;
  }
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
  std::mutex lock;         // guards everything below but the streaming-thread fields of PadContext
  std::mutex rotate_lock;  // one segment switch at a time
  Settings settings;
  bool muxer_configured = false;
  std::vector<std::unique_ptr<PadContext>> pads;

  // One recording run (READY..READY).
  Settings active;
  std::shared_ptr<Root> root;
  std::string manifest_path;  // root-relative
  std::string manifest_dir;
  Manifest manifest;
  guint64 timeline_offset = 0;
  GstClockTimeDiff first_running_time = 0;
  bool any_opened = false;
  guint64 next_index = 0;
  bool running = false;  // PAUSED or PLAYING: buffers may flow
  std::shared_ptr<Segment> current;
  std::vector<std::shared_ptr<Segment>> segments;  // attached ones, oldest first

  bool has_video() const {
    return std::any_of(pads.begin(), pads.end(), [](const auto &p) { return p->video; });
  }
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

static const char *muxer_factory(LpRecordFormat format) {
  return format == LP_RECORD_FORMAT_MKV ? "matroskamux" : "mp4mux";
}

// What the muxer takes on an input like `pad`: its pad template's caps within
// ours, so upstream parsers pick the stream format the container needs.
static GstCaps *allowed_caps(GstLpRecordBin *self, GstPad *pad, bool video) {
  LpRecordFormat format;
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    format = self->state->settings.format;
  }
  GstCaps *ours = gst_pad_get_pad_template_caps(pad);
  GstElementFactory *factory = gst_element_factory_find(muxer_factory(format));
  if (!factory) {
    return ours;
  }
  GstCaps *result = nullptr;
  for (const GList *l = gst_element_factory_get_static_pad_templates(factory); l; l = l->next) {
    auto *templ = static_cast<GstStaticPadTemplate *>(l->data);
    if (templ->direction == GST_PAD_SINK &&
        g_str_equal(templ->name_template, video ? "video_%u" : "audio_%u")) {
      GstCaps *theirs = gst_static_pad_template_get_caps(templ);
      result = gst_caps_intersect(theirs, ours);
      gst_caps_unref(theirs);
      break;
    }
  }
  gst_object_unref(factory);
  if (!result) {
    return ours;
  }
  gst_caps_unref(ours);
  return result;
}

static GstElement *make_muxer(GstLpRecordBin *self, const Settings &settings) {
  GstElement *muxer = gst_element_factory_make(muxer_factory(settings.format), nullptr);
  if (!muxer) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN,
                      ("lprecordbin needs %s (gst-plugins-good)", muxer_factory(settings.format)),
                      (nullptr));
    return nullptr;
  }
  if (settings.format == LP_RECORD_FORMAT_MKV) {
    g_object_set(muxer, "streamable", TRUE, "max-cluster-duration",
                 static_cast<gint64>(settings.fragment_duration) * GST_MSECOND, nullptr);
  } else {
    g_object_set(muxer, "fragment-duration", settings.fragment_duration, "streamable", TRUE,
                 nullptr);
  }
  return muxer;
}

static gboolean on_segment_src_query(GstPad *, GstObject *, GstQuery *query);
static gboolean on_segment_src_event(GstPad *, GstObject *, GstEvent *event);

// Links `ctx` into `segment`'s muxer. Called without the state lock.
static bool add_segment_input(GstLpRecordBin *self, Segment *segment, PadContext *ctx) {
  GstPad *muxer_pad =
      gst_element_request_pad_simple(segment->muxer.get(), ctx->video ? "video_%u" : "audio_%u");
  if (!muxer_pad) {
    // A muxer that has started takes no new track: the input joins the next
    // segment.
    GST_ELEMENT_WARNING(self, STREAM, MUX,
                        ("The segment's muxer refused the input %s; it is recorded from the "
                         "next segment on",
                         GST_PAD_NAME(ctx->pad)),
                        (nullptr));
    return false;
  }
  GstPad *src = gst_pad_new(nullptr, GST_PAD_SRC);
  gst_object_ref_sink(src);
  gst_pad_set_element_private(src, ctx);
  gst_pad_set_query_function(src, on_segment_src_query);
  gst_pad_set_event_function(src, on_segment_src_event);
  gst_pad_set_active(src, TRUE);
  gst_pad_link(src, muxer_pad);
  SegmentInput input;
  input.input = ctx;
  input.src.reset(src);
  input.muxer_pad.reset(muxer_pad);
  std::lock_guard<std::mutex> guard(self->state->lock);
  segment->inputs.push_back(std::move(input));
  return true;
}

// The sticky events a muxer pad needs before `ctx`'s buffers. Takes the lock.
static std::vector<GstEvent *> priming_events(GstLpRecordBin *self, PadContext *ctx) {
  std::vector<GstEvent *> events;
  std::lock_guard<std::mutex> guard(self->state->lock);
  if (ctx->stream_start) {
    events.push_back(gst_event_ref(ctx->stream_start.get()));
  } else {
    gchar *id = gst_pad_create_stream_id(ctx->pad, GST_ELEMENT(self), nullptr);
    events.push_back(gst_event_new_stream_start(id));
    g_free(id);
  }
  if (ctx->caps) {
    events.push_back(gst_event_ref(ctx->caps.get()));
  }
  GstSegment out;
  gst_segment_init(&out, GST_FORMAT_TIME);
  out.start = out.position = static_cast<guint64>(kDecodeLead);
  events.push_back(gst_event_new_segment(&out));
  if (ctx->tags) {
    events.push_back(gst_event_ref(ctx->tags.get()));
  }
  return events;
}

static void push_events(GstPad *src, std::vector<GstEvent *> events) {
  for (GstEvent *event : events) {
    gst_pad_push_event(src, event);
  }
}

// Creates the next segment's muxer and sink in the bin. With `prime`, inputs
// whose caps are known get their sticky events at once, so the new muxer
// knows every track before the first buffer reaches it.
static std::shared_ptr<Segment> create_segment(GstLpRecordBin *self, bool prime) {
  auto *s = self->state;
  Settings settings;
  std::shared_ptr<Root> root;
  std::vector<PadContext *> inputs;
  auto segment = std::make_shared<Segment>();
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->root) {
      return nullptr;
    }
    settings = s->active;
    root = s->root;
    segment->index = s->next_index++;
    for (auto &p : s->pads) {
      inputs.push_back(p.get());
    }
  }
  std::string error;
  auto location =
      livepipe::record::expand_template(settings.location, settings.stream, segment->index, &error);
  if (!location) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Invalid recording location: %s", error.c_str()),
                      (nullptr));
    return nullptr;
  }
  segment->location = *location;
  GstElement *muxer = make_muxer(self, settings);
  if (!muxer) {
    return nullptr;
  }
  segment->muxer = livepipe::sink(muxer);
  segment->sink = livepipe::sink(GST_ELEMENT(g_object_new(GST_TYPE_LP_SEGMENT_SINK, nullptr)));
  gst_lp_segment_sink_configure(GST_LP_SEGMENT_SINK(segment->sink.get()), root,
                                settings.format == LP_RECORD_FORMAT_MKV
                                    ? LpSegmentContainer::kMatroska
                                    : LpSegmentContainer::kMp4);
  g_object_set(segment->sink.get(), "location", segment->location.c_str(), nullptr);
  gst_bin_add_many(GST_BIN(self), segment->muxer.get(), segment->sink.get(), nullptr);
  segment->attached = true;
  gst_element_link(segment->muxer.get(), segment->sink.get());
  for (PadContext *ctx : inputs) {
    add_segment_input(self, segment.get(), ctx);
  }
  gst_element_sync_state_with_parent(segment->sink.get());
  gst_element_sync_state_with_parent(segment->muxer.get());
  if (prime) {
    for (auto &in : segment->inputs) {
      bool known;
      {
        std::lock_guard<std::mutex> guard(s->lock);
        known = in.input->caps != nullptr;
      }
      if (known) {
        push_events(in.src.get(), priming_events(self, in.input));
        in.primed = true;
      }
    }
  }
  {
    std::lock_guard<std::mutex> guard(s->lock);
    s->segments.push_back(segment);
  }
  GST_INFO_OBJECT(self, "segment %" G_GUINT64_FORMAT " ready: %s", segment->index,
                  segment->location.c_str());
  return segment;
}

// Takes a segment's elements out of the bin. Called without the state lock,
// never from the segment's own streaming threads.
static void detach_segment(GstLpRecordBin *self, const std::shared_ptr<Segment> &segment) {
  std::vector<SegmentInput> inputs;
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    if (!segment->attached) {
      return;
    }
    segment->attached = false;
    inputs = std::move(segment->inputs);
    segment->inputs.clear();
    auto &all = self->state->segments;
    all.erase(std::remove(all.begin(), all.end(), segment), all.end());
  }
  gst_element_set_state(segment->muxer.get(), GST_STATE_NULL);
  gst_element_set_state(segment->sink.get(), GST_STATE_NULL);
  for (auto &in : inputs) {
    gst_pad_unlink(in.src.get(), in.muxer_pad.get());
    gst_pad_set_active(in.src.get(), FALSE);
    gst_element_release_request_pad(segment->muxer.get(), in.muxer_pad.get());
  }
  gst_bin_remove_many(GST_BIN(self), segment->muxer.get(), segment->sink.get(), nullptr);
}

static void detach_segment_async(GstElement *element, gpointer data) {
  detach_segment(GST_LP_RECORD_BIN(element), *static_cast<std::shared_ptr<Segment> *>(data));
}

static void free_segment_ref(gpointer data) {
  delete static_cast<std::shared_ptr<Segment> *>(data);
}

static void open_segment_locked(GstLpRecordBin *self, Segment *segment, GstClockTimeDiff at);

struct Stamp {
  GstClockTimeDiff time = 0;  // output running time the buffer is shown at
  GstClockTimeDiff end = 0;   // output running time the buffer is shown until
  bool keyframe = false;
  bool discont = false;  // the first keyframe after a timestamp jump
};

// Maps the buffer's timestamps into the recording's continuous timeline.
// Returns false for buffers that cannot be recorded. Streaming thread of
// `ctx`'s pad.
static bool stamp_buffer(GstLpRecordBin *self, PadContext *ctx, GstBuffer **inout, Stamp *stamp) {
  GstBuffer *buffer = *inout;
  if (!ctx->have_segment) {
    return false;
  }
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  GstClockTime dts = GST_BUFFER_DTS(buffer);
  GstClockTime ts = GST_CLOCK_TIME_IS_VALID(dts) ? dts : pts;
  if (!GST_CLOCK_TIME_IS_VALID(ts)) {
    return false;  // a muxer cannot place it
  }
  GstClockTime shown = GST_CLOCK_TIME_IS_VALID(pts) ? pts : ts;
  if (!GST_CLOCK_TIME_IS_VALID(
          gst_segment_to_running_time(&ctx->segment, GST_FORMAT_TIME, shown))) {
    return false;  // outside the segment
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
    return false;
  }
  bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  if (ctx->video && !ctx->started && !keyframe) {
    return false;  // a segment must start on a keyframe
  }
  guint64 threshold;
  bool leads;
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    threshold = self->state->active.discont_threshold;
    leads = ctx->video || !self->state->has_video();
  }
  GstClockTimeDiff out = running + ctx->offset;
  if (ctx->started) {
    bool backwards = out < ctx->last_time;
    bool gap = out > ctx->last_end + static_cast<GstClockTimeDiff>(threshold);
    if (backwards || gap) {
      GST_INFO_OBJECT(self, "%s: timestamps jump from %" GST_STIME_FORMAT " to %" GST_STIME_FORMAT,
                      GST_PAD_NAME(ctx->pad), GST_STIME_ARGS(ctx->last_time), GST_STIME_ARGS(out));
      ctx->offset += ctx->last_end - out;
      out = ctx->last_end;
      if (leads) {
        ctx->split_on_keyframe = true;
        ctx->waiting_keyframe = ctx->video && !keyframe;
      }
    }
  }
  if (ctx->video && ctx->waiting_keyframe) {
    if (!keyframe) {
      return false;  // undecodable until the next keyframe
    }
    ctx->waiting_keyframe = false;
  }
  stamp->discont = false;
  if (ctx->split_on_keyframe && (keyframe || !ctx->video)) {
    ctx->split_on_keyframe = false;
    stamp->discont = true;
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
  *inout = buffer;
  ctx->last_time = out;
  GstClockTime duration = GST_BUFFER_DURATION(buffer);
  GstClockTimeDiff length =
      GST_CLOCK_TIME_IS_VALID(duration) ? static_cast<GstClockTimeDiff>(duration) : 0;
  ctx->last_end = out + length;
  // Segments switch, start and end on presentation times: with B-frames a
  // keyframe is decoded before it is shown, and audio is placed by when it
  // plays.
  GstClockTimeDiff shown_running = running;
  if (GST_CLOCK_TIME_IS_VALID(pts)) {
    signed_running(pts, &shown_running);
  }
  stamp->time = shown_running + shift;
  stamp->end = stamp->time + length;
  stamp->keyframe = keyframe;
  return true;
}

// Whether the buffer `ctx` brings at `stamp` ends the current segment. Only
// the leading input (video, or any input of an audio-only recording)
// switches, and video only on a keyframe.
static bool should_switch_locked(RecordState *s, PadContext *ctx, const Stamp &stamp,
                                 guint64 size) {
  Segment *current = s->current.get();
  if (!(ctx->video || !s->has_video()) || !current->opened) {
    return false;
  }
  if (ctx->video && !stamp.keyframe) {
    return false;
  }
  if (stamp.discont) {
    return true;
  }
  const Settings &settings = s->active;
  if (settings.max_size_time > 0 && stamp.time - current->start + kLimitTolerance >=
                                        static_cast<GstClockTimeDiff>(settings.max_size_time)) {
    return true;
  }
  if (settings.max_size_bytes > 0) {
    // The group of pictures (or buffer) just ended is the best guess at the
    // size of the next one: switch before it would take the segment over.
    guint64 last_group = current->bytes - current->bytes_at_keyframe;
    guint64 next = ctx->video ? last_group : size;
    if (current->bytes + next > settings.max_size_bytes) {
      return true;
    }
  }
  current->bytes_at_keyframe = current->bytes;
  return false;
}

struct PendingEos {
  GstPtr<GstPad> src;
  bool primed = false;
  PadContext *input = nullptr;
};

// Marks `in` finished and queues its end-of-stream. Under the state lock.
static void queue_eos_locked(SegmentInput *in, std::vector<PendingEos> *out) {
  if (in->eos) {
    return;
  }
  in->eos = true;
  out->push_back({livepipe::ref(in->src.get()), in->primed, in->input});
  in->primed = true;
}

static void send_eos(GstLpRecordBin *self, std::vector<PendingEos> pending) {
  for (auto &p : pending) {
    if (!p.primed) {
      push_events(p.src.get(), priming_events(self, p.input));
    }
    gst_pad_push_event(p.src.get(), gst_event_new_eos());
  }
}

// Hands the current segment over to a new one starting at `stamp`: the
// leading input's pad of the old one ends now, other inputs' pads once their
// timestamps reach the switch (they may still bring data that belongs before
// it), and a segment older still is ended whatever its inputs do.
static void switch_segment(GstLpRecordBin *self, PadContext *ctx, const Stamp &stamp,
                           const Segment *seen) {
  auto *s = self->state;
  std::lock_guard<std::mutex> rotating(s->rotate_lock);
  {
    // Another input of an audio-only recording may have switched first.
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->running || s->current.get() != seen) {
      return;
    }
  }
  auto fresh = create_segment(self, true);
  if (!fresh) {
    return;
  }
  std::vector<PendingEos> pending;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->running) {
      return;
    }
    for (auto &segment : s->segments) {
      if (segment->closing) {
        for (auto &in : segment->inputs) {
          queue_eos_locked(&in, &pending);
        }
      }
    }
    auto old = s->current;
    old->closing = true;
    old->switch_time = stamp.time;
    for (auto &in : old->inputs) {
      if (in.input == ctx || in.input->eos || in.input->routed_time >= stamp.time) {
        queue_eos_locked(&in, &pending);
      }
    }
    fresh->discont = stamp.discont;
    s->current = fresh;
    open_segment_locked(self, fresh.get(), stamp.time);
  }
  GST_INFO_OBJECT(self, "segment %" G_GUINT64_FORMAT " starts at %" GST_STIME_FORMAT "%s",
                  fresh->index, GST_STIME_ARGS(stamp.time), stamp.discont ? " (discont)" : "");
  send_eos(self, std::move(pending));
}

static GstFlowReturn on_chain(GstPad *pad, GstObject *parent, GstBuffer *buffer) {
  auto *self = GST_LP_RECORD_BIN(parent);
  auto *s = self->state;
  auto *ctx = static_cast<PadContext *>(gst_pad_get_element_private(pad));
  Stamp stamp;
  if (!stamp_buffer(self, ctx, &buffer, &stamp)) {
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  guint64 size = gst_buffer_get_size(buffer);
  bool switch_now;
  const Segment *seen;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->running || !s->current) {
      gst_buffer_unref(buffer);
      return GST_FLOW_FLUSHING;
    }
    seen = s->current.get();
    switch_now = should_switch_locked(s, ctx, stamp, size);
    if (!switch_now && stamp.discont && !s->current->opened) {
      s->current->discont = true;
    }
  }
  if (switch_now) {
    switch_segment(self, ctx, stamp, seen);
  }

  std::shared_ptr<Segment> target;
  GstPtr<GstPad> src;
  bool primed = true;
  std::vector<PendingEos> pending;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (!s->running || !s->current) {
      gst_buffer_unref(buffer);
      return GST_FLOW_FLUSHING;
    }
    // Data from before a switch still goes to the segment it belongs to.
    for (auto &segment : s->segments) {
      SegmentInput *in = segment->closing ? segment->input_of(ctx) : nullptr;
      if (!in || in->eos) {
        continue;
      }
      if (stamp.time < segment->switch_time) {
        target = segment;
        break;
      }
      queue_eos_locked(in, &pending);
    }
    if (!target) {
      target = s->current;
      if (!target->opened) {
        open_segment_locked(self, target.get(), stamp.time);
      }
    }
    SegmentInput *in = target->input_of(ctx);
    if (in && !in->eos) {
      src = livepipe::ref(in->src.get());
      primed = in->primed;
      in->primed = true;
      target->bytes += size;
      target->end = std::max(target->end, stamp.end);
    }
    ctx->routed_time = std::max(ctx->routed_time, stamp.time);
  }
  send_eos(self, std::move(pending));
  if (!src) {
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  if (!primed) {
    push_events(src.get(), priming_events(self, ctx));
  }
  GstFlowReturn ret = gst_pad_push(src.get(), buffer);
  bool current;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    current = target == s->current;
  }
  // A segment being finished may already have ended this input.
  if (!current && (ret == GST_FLOW_EOS || ret == GST_FLOW_FLUSHING)) {
    return GST_FLOW_OK;
  }
  return ret;
}

// Forwards a serialized event to every segment `ctx` still feeds.
static void forward_event(GstLpRecordBin *self, PadContext *ctx, GstEvent *event) {
  std::vector<GstPtr<GstPad>> targets;
  {
    std::lock_guard<std::mutex> guard(self->state->lock);
    for (auto &segment : self->state->segments) {
      SegmentInput *in = segment->input_of(ctx);
      if (in && in->primed && !in->eos) {
        targets.push_back(livepipe::ref(in->src.get()));
      }
    }
  }
  for (auto &src : targets) {
    gst_pad_push_event(src.get(), gst_event_ref(event));
  }
  gst_event_unref(event);
}

static gboolean on_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  auto *self = GST_LP_RECORD_BIN(parent);
  auto *s = self->state;
  auto *ctx = static_cast<PadContext *>(gst_pad_get_element_private(pad));
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment(event, &segment);
      // Only timed streams can be recorded; timestamps are remapped into the
      // muxers' own segment.
      if (segment->format == GST_FORMAT_TIME) {
        gst_segment_copy_into(segment, &ctx->segment);
        ctx->have_segment = true;
      }
      gst_event_unref(event);
      return TRUE;
    }
    case GST_EVENT_STREAM_START: {
      // A restarted upstream continues this recording.
      std::lock_guard<std::mutex> guard(s->lock);
      if (!ctx->stream_start) {
        ctx->stream_start.reset(event);
      } else {
        gst_event_unref(event);
      }
      return TRUE;
    }
    case GST_EVENT_CAPS:
    case GST_EVENT_TAG: {
      {
        std::lock_guard<std::mutex> guard(s->lock);
        (GST_EVENT_TYPE(event) == GST_EVENT_CAPS ? ctx->caps : ctx->tags)
            .reset(gst_event_ref(event));
      }
      forward_event(self, ctx, event);
      return TRUE;
    }
    case GST_EVENT_EOS: {
      std::vector<PendingEos> pending;
      {
        std::lock_guard<std::mutex> guard(s->lock);
        ctx->eos = true;
        for (auto &segment : s->segments) {
          if (SegmentInput *in = segment->input_of(ctx)) {
            queue_eos_locked(in, &pending);
          }
        }
      }
      send_eos(self, std::move(pending));
      gst_event_unref(event);
      return TRUE;
    }
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_GAP:
      // Upstream flushes and gaps would reset or confuse the muxer; the
      // timestamp check turns what follows into a new segment if needed.
      gst_event_unref(event);
      return TRUE;
    default:
      // The flags tested as integers: the GST_EVENT_IS_* macros mix two enum
      // types, which C++20 deprecates (an error in the meson build).
      if ((static_cast<unsigned>(GST_EVENT_TYPE(event)) & GST_EVENT_TYPE_SERIALIZED) &&
          (static_cast<unsigned>(GST_EVENT_TYPE(event)) & GST_EVENT_TYPE_DOWNSTREAM)) {
        forward_event(self, ctx, event);
      } else {
        gst_event_unref(event);
      }
      return TRUE;
  }
}

static gboolean on_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  auto *self = GST_LP_RECORD_BIN(parent);
  auto *ctx = static_cast<PadContext *>(gst_pad_get_element_private(pad));
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter;
      gst_query_parse_caps(query, &filter);
      GstCaps *caps = allowed_caps(self, pad, ctx->video);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps;
      gst_query_parse_accept_caps(query, &caps);
      GstCaps *allowed = allowed_caps(self, pad, ctx->video);
      gst_query_set_accept_caps_result(query, gst_caps_can_intersect(caps, allowed));
      gst_caps_unref(allowed);
      return TRUE;
    }
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

// Queries from a muxer (latency, mostly) are answered by the input upstream.
static gboolean on_segment_src_query(GstPad *src, GstObject *, GstQuery *query) {
  auto *ctx = static_cast<PadContext *>(gst_pad_get_element_private(src));
  return ctx && ctx->pad ? gst_pad_peer_query(ctx->pad, query) : FALSE;
}

static gboolean on_segment_src_event(GstPad *src, GstObject *, GstEvent *event) {
  auto *ctx = static_cast<PadContext *>(gst_pad_get_element_private(src));
  if (!ctx || !ctx->pad) {
    gst_event_unref(event);
    return FALSE;
  }
  return gst_pad_push_event(ctx->pad, event);
}

static GstPad *gst_lp_record_bin_request_new_pad(GstElement *element, GstPadTemplate *templ,
                                                 const gchar *name, const GstCaps *) {
  auto *self = GST_LP_RECORD_BIN(element);
  auto *s = self->state;
  bool video = g_str_equal(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "video");
  std::string pad_name;
  std::shared_ptr<Segment> current;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    if (video) {
      for (const auto &p : s->pads) {
        if (p->video) {
          GST_WARNING_OBJECT(self, "lprecordbin records one video stream");
          return nullptr;
        }
      }
      pad_name = "video";
    } else if (name) {
      pad_name = name;
    } else {
      for (guint n = 0;; ++n) {
        std::string candidate = "audio_" + std::to_string(n);
        if (std::none_of(s->pads.begin(), s->pads.end(),
                         [&](const auto &p) { return candidate == GST_PAD_NAME(p->pad); })) {
          pad_name = candidate;
          break;
        }
      }
    }
    for (const auto &p : s->pads) {
      if (pad_name == GST_PAD_NAME(p->pad)) {
        GST_WARNING_OBJECT(self, "pad %s exists", pad_name.c_str());
        return nullptr;
      }
    }
    s->muxer_configured = true;
    current = s->current;
  }
  GstPad *pad = gst_pad_new_from_template(templ, pad_name.c_str());
  auto ctx = std::make_unique<PadContext>();
  ctx->pad = pad;
  ctx->video = video;
  gst_segment_init(&ctx->segment, GST_FORMAT_TIME);
  gst_pad_set_element_private(pad, ctx.get());
  gst_pad_set_chain_function(pad, on_chain);
  gst_pad_set_event_function(pad, on_event);
  gst_pad_set_query_function(pad, on_query);
  PadContext *raw = ctx.get();
  {
    std::lock_guard<std::mutex> guard(s->lock);
    s->pads.push_back(std::move(ctx));
  }
  if (current) {
    add_segment_input(self, current.get(), raw);
  }
  gst_pad_set_active(pad, TRUE);
  gst_element_add_pad(element, pad);
  return pad;
}

static void gst_lp_record_bin_release_pad(GstElement *element, GstPad *pad) {
  auto *self = GST_LP_RECORD_BIN(element);
  auto *s = self->state;
  std::unique_ptr<PadContext> ctx;
  std::vector<std::pair<std::shared_ptr<Segment>, SegmentInput>> links;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    for (auto it = s->pads.begin(); it != s->pads.end(); ++it) {
      if ((*it)->pad == pad) {
        ctx = std::move(*it);
        s->pads.erase(it);
        break;
      }
    }
    if (!ctx) {
      return;
    }
    for (auto &segment : s->segments) {
      auto &inputs = segment->inputs;
      for (auto it = inputs.begin(); it != inputs.end(); ++it) {
        if (it->input == ctx.get()) {
          links.emplace_back(segment, std::move(*it));
          inputs.erase(it);
          break;
        }
      }
    }
  }
  gst_pad_set_active(pad, FALSE);
  for (auto &[segment, in] : links) {
    gst_pad_set_element_private(in.src.get(), nullptr);
    gst_pad_unlink(in.src.get(), in.muxer_pad.get());
    gst_pad_set_active(in.src.get(), FALSE);
    gst_element_release_request_pad(segment->muxer.get(), in.muxer_pad.get());
  }
  gst_element_remove_pad(element, pad);
}

// READY: validate paths, open the root, continue or start the manifest.
static bool prepare_recording(GstLpRecordBin *self) {
  auto *s = self->state;
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
  s->first_running_time = 0;
  s->any_opened = false;
  s->next_index = next_index;
  for (auto &ctx : s->pads) {
    gst_segment_init(&ctx->segment, GST_FORMAT_TIME);
    ctx->have_segment = ctx->started = false;
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

// The segment's first buffer (or the switch that starts it) enters it in the
// manifest.
static void open_segment_locked(GstLpRecordBin *self, Segment *segment, GstClockTimeDiff at) {
  auto *s = self->state;
  segment->opened = true;
  segment->start = std::max<GstClockTimeDiff>(0, at);
  segment->end = std::max(segment->end, segment->start);
  if (!s->root) {
    return;
  }
  bool first_of_run = !s->any_opened;
  if (first_of_run) {
    s->any_opened = true;
    s->first_running_time = segment->start;
  }
  SegmentEntry entry;
  entry.path = livepipe::record::relative_to(s->manifest_dir, segment->location);
  entry.index = segment->index;
  entry.start_ns = s->timeline_offset + static_cast<guint64>(std::max<GstClockTimeDiff>(
                                            0, segment->start - s->first_running_time));
  entry.wallclock = livepipe::record::utc_now();
  bool continues = first_of_run && s->timeline_offset > 0 && !s->manifest.segments.empty() &&
                   s->manifest.segments.back().start_ns < s->timeline_offset;
  entry.discont = continues || segment->discont;
  s->manifest.segments.push_back(entry);
  write_manifest_locked(self);
}

// The segment's sink wrote its last byte: complete its manifest entry and
// tell the application.
static void close_segment(GstLpRecordBin *self, Segment *segment) {
  auto *s = self->state;
  GstStructure *structure = nullptr;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    segment->finished = true;
    if (!s->root || !segment->opened) {
      return;
    }
    std::string relative = livepipe::record::relative_to(s->manifest_dir, segment->location);
    SegmentEntry *entry = nullptr;
    for (auto &e : s->manifest.segments) {
      if (e.path == relative && !e.complete) {
        entry = &e;
      }
    }
    if (!entry) {
      return;
    }
    GstClockTimeDiff until = segment->closing ? segment->switch_time : segment->end;
    entry->duration_ns = until > segment->start ? static_cast<guint64>(until - segment->start) : 0;
    entry->size = s->root->file_size(segment->location).value_or(0);
    entry->complete = true;
    write_manifest_locked(self);
    std::string full_path = s->root->join(segment->location);
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
  auto *s = self->state;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
    std::shared_ptr<Segment> segment;
    bool superseded = false;
    {
      std::lock_guard<std::mutex> guard(s->lock);
      for (auto &candidate : s->segments) {
        if (GST_MESSAGE_SRC(message) == GST_OBJECT(candidate->sink.get())) {
          segment = candidate;
          superseded = candidate != s->current;
        }
      }
    }
    if (segment) {
      close_segment(self, segment.get());
      if (superseded) {
        // Not from here: this is the segment's own streaming thread.
        gst_element_call_async(GST_ELEMENT(self), detach_segment_async,
                               new std::shared_ptr<Segment>(segment), free_segment_ref);
      }
    }
  }
  GST_BIN_CLASS(gst_lp_record_bin_parent_class)->handle_message(bin, message);
}

static void detach_all_segments(GstLpRecordBin *self) {
  auto *s = self->state;
  std::vector<std::shared_ptr<Segment>> segments;
  {
    std::lock_guard<std::mutex> guard(s->lock);
    s->running = false;
    segments = s->segments;
    if (s->current && !s->current->opened && s->next_index == s->current->index + 1) {
      s->next_index = s->current->index;  // never used: the next run takes its number
    }
    s->current.reset();
  }
  for (auto &segment : segments) {
    detach_segment(self, segment);
  }
  std::lock_guard<std::mutex> guard(s->lock);
  for (auto &ctx : s->pads) {
    ctx->stream_start.reset();
    ctx->caps.reset();
    ctx->tags.reset();
    ctx->routed_time = G_MININT64;
    ctx->eos = false;
  }
}

static GstStateChangeReturn gst_lp_record_bin_change_state(GstElement *element,
                                                           GstStateChange transition) {
  auto *self = GST_LP_RECORD_BIN(element);
  auto *s = self->state;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !prepare_recording(self)) {
    return GST_STATE_CHANGE_FAILURE;
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    // The first segment is there before data flows, so the bin is a sink
    // from the start; its file only appears once it holds data.
    auto first = create_segment(self, false);
    if (!first) {
      return GST_STATE_CHANGE_FAILURE;
    }
    std::lock_guard<std::mutex> guard(s->lock);
    s->current = first;
    s->running = true;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_lp_record_bin_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE)) {
    detach_all_segments(self);
  }
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
                          "Start a new segment at a keyframe before this size would be exceeded, "
                          "judged by the last group of pictures (bytes, 0 = no limit)",
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
}
