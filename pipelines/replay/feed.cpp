#include "feed.h"

#include "util/gstptr.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace livepipe::replay {
namespace {

constexpr GstClockTime kPollInterval = 100 * GST_MSECOND;

struct PadFeed;

// A frame read before its segment's origin was known.
struct EarlyFrame {
  PadFeed *feed;
  MiniPtr<GstBuffer> buffer;
  GstClockTime pts;
};

struct FeedState {
  const FeedOptions *options = nullptr;
  std::string stop_reason;
  uint64_t start = 0;
  uint64_t end = 0;
  bool has_video = false;
  bool has_audio = false;
  std::mutex lock;
  // The segment being read.
  uint64_t segment_start = 0;
  // Matroska segments keep the recorder's timestamps: they are moved to
  // start at 0 from the segment's first video frame (the keyframe it starts
  // with), as clips do; audio read before it waits in `early`.
  bool rebase = false;
  bool have_file_origin = false;
  uint64_t file_origin = 0;
  std::vector<EarlyFrame> early;
  // The feed's timeline: recording time minus `origin`.
  bool have_origin = false;
  uint64_t origin = 0;
  bool video_done = false;
  bool audio_done = false;
  GstClockTime last_video = GST_CLOCK_TIME_NONE;
  std::string error;
  FeedResult result;
};

struct PadFeed {
  FeedState *state;
  bool video;
  bool seen = false;
  MiniPtr<GstCaps> caps;  // the segment's caps, until its first frame goes out
  GstClockTime next_pts = GST_CLOCK_TIME_NONE;  // the previous frame's end
};

struct Output {
  bool video;
  MiniPtr<GstBuffer> buffer;
  MiniPtr<GstCaps> caps;
};

GstClockTime rebased(const FeedState &state, GstClockTime t) {
  if (!GST_CLOCK_TIME_IS_VALID(t)) {
    return t;
  }
  if (state.rebase) {
    t = t > state.file_origin ? t - state.file_origin : 0;
  }
  return state.segment_start + t;
}

// Under the lock: a frame on the feed's timeline into `out`, or nothing when
// it is outside the range or not decodable there.
void place(FeedState &state, PadFeed &feed, GstBuffer *buffer, GstClockTime pts,
           std::vector<Output> *out) {
  uint64_t at = rebased(state, pts);
  bool &done = feed.video ? state.video_done : state.audio_done;
  if (done || !state.error.empty()) {
    return;
  }
  if (at >= state.end) {
    done = true;
    return;
  }
  if (feed.video) {
    bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    if (!state.have_origin) {
      if (!keyframe || at < state.start) {
        return;  // not decodable, or before the range
      }
      state.have_origin = true;
      state.origin = at;
    }
    // A frame shown before the one decoded ahead of it: B-frames, which
    // WebRTC viewers cannot play.
    if (GST_CLOCK_TIME_IS_VALID(state.last_video) && at < state.last_video) {
      state.error =
          "the recording's video has B-frames (frames out of order), which WebRTC viewers "
          "cannot play";
      return;
    }
    state.last_video = at;
  } else if (!state.have_origin) {
    if (state.has_video || at < state.start) {
      return;  // audio starts with the video
    }
    state.have_origin = true;
    state.origin = at;
  }
  if (at < state.origin) {
    return;
  }
  MiniPtr<GstBuffer> copy(gst_buffer_copy(buffer));
  GstBuffer *b = copy.get();
  GST_BUFFER_PTS(b) = at - state.origin;
  GstClockTime dts = rebased(state, GST_BUFFER_DTS(buffer));
  GST_BUFFER_DTS(b) = GST_CLOCK_TIME_IS_VALID(dts) ? (dts > state.origin ? dts - state.origin : 0)
                                                   : GST_CLOCK_TIME_NONE;
  GstClockTime end = GST_BUFFER_PTS(b);
  if (GST_BUFFER_DURATION_IS_VALID(b)) {
    end += GST_BUFFER_DURATION(b);
  }
  state.result.duration_ns = std::max<uint64_t>(state.result.duration_ns, end);
  ++(feed.video ? state.result.video_frames : state.result.audio_frames);
  out->push_back(Output{feed.video, std::move(copy), std::move(feed.caps)});
}

// Under the lock: the segment's origin is known; the frames that waited for
// it are placed first.
void set_file_origin(FeedState &state, GstClockTime origin, std::vector<Output> *out) {
  state.have_file_origin = true;
  state.file_origin = origin;
  std::vector<EarlyFrame> early = std::move(state.early);
  state.early.clear();
  for (auto &frame : early) {
    place(state, *frame.feed, frame.buffer.get(), frame.pts, out);
  }
}

// Outside the lock: the callback may wait for the consumer.
void deliver(FeedState &state, std::vector<Output> &out) {
  for (auto &o : out) {
    if (!state.options->frame(o.video, o.buffer.get(), o.caps.get())) {
      std::lock_guard<std::mutex> guard(state.lock);
      if (state.error.empty()) {
        state.error = state.stop_reason;
      }
      return;
    }
  }
}

GstPadProbeReturn on_frame(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *feed = static_cast<PadFeed *>(data);
  FeedState &state = *feed->state;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  std::vector<Output> out;
  {
    std::lock_guard<std::mutex> guard(state.lock);
    if (!state.error.empty()) {
      return GST_PAD_PROBE_DROP;
    }
    if (!feed->seen) {
      feed->seen = true;
      feed->caps.reset(gst_pad_get_current_caps(pad));
    }
    GstClockTime pts = GST_BUFFER_PTS(buffer);
    // matroskademux leaves all but the first frame of a laced block without
    // a timestamp: they follow the previous frame.
    if (!GST_CLOCK_TIME_IS_VALID(pts)) {
      if (!GST_CLOCK_TIME_IS_VALID(feed->next_pts)) {
        return GST_PAD_PROBE_DROP;
      }
      pts = feed->next_pts;
    }
    feed->next_pts = GST_BUFFER_DURATION_IS_VALID(buffer) ? pts + GST_BUFFER_DURATION(buffer) : pts;
    if (state.rebase && !state.have_file_origin) {
      if (!feed->video && state.has_video) {
        state.early.push_back(EarlyFrame{feed, ref_mini(buffer), pts});
        return GST_PAD_PROBE_DROP;
      }
      set_file_origin(state, pts, &out);
    }
    place(state, *feed, buffer, pts, &out);
  }
  deliver(state, out);
  return GST_PAD_PROBE_DROP;
}

struct Reader {
  FeedState *state = nullptr;
  GstPtr<GstElement> pipeline;
  bool have_video = false;
  bool have_audio = false;
  std::vector<std::unique_ptr<PadFeed>> feeds;
};

void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *reader = static_cast<Reader *>(data);
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
  const char *media = caps && gst_caps_get_size(caps.get())
                          ? gst_structure_get_name(gst_caps_get_structure(caps.get(), 0))
                          : "";
  bool video = g_str_has_prefix(media, "video/");
  bool audio = g_str_has_prefix(media, "audio/");
  // Every pad is linked (an unlinked one stops the demuxer); the frames of
  // the two streams fed are dropped before the sink.
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(reader->pipeline.get()), sink);
  gst_element_sync_state_with_parent(sink);
  GstPtr<GstPad> sink_pad(gst_element_get_static_pad(sink, "sink"));
  gst_pad_link(pad, sink_pad.get());
  bool wanted = (video && reader->state->has_video && !reader->have_video) ||
                (audio && reader->state->has_audio && !reader->have_audio);
  if (!wanted) {
    return;
  }
  (video ? reader->have_video : reader->have_audio) = true;
  auto feed = std::make_unique<PadFeed>();
  feed->state = reader->state;
  feed->video = video;
  reader->feeds.push_back(std::move(feed));
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_frame, reader->feeds.back().get(), nullptr);
}

}  // namespace

std::string message_text(GstMessage *message) {
  GError *error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  std::string text = error ? error->message : "unknown error";
  g_clear_error(&error);
  GCharPtr name(gst_object_get_name(GST_MESSAGE_SRC(message)));
  return std::string(name ? name.get() : "element") + ": " + text;
}

bool feed_recording(const Recording &recording, const FeedOptions &options, FeedResult *result,
                    std::string *error, const std::string &stop_reason) {
  const auto &segments = recording.manifest.segments;
  uint64_t total = recording.manifest.duration_ns();
  if (segments.empty() || total == 0) {
    *error = "the recording has no media";
    return false;
  }
  FeedState state;
  state.options = &options;
  state.stop_reason = stop_reason;
  state.start = options.start_ns;
  state.end = std::min(options.end_ns, total);
  if (state.start >= state.end) {
    *error = "start " + std::to_string(static_cast<double>(state.start) / 1e9) +
             " s is not before the end of the range";
    return false;
  }
  SegmentCaps caps;
  auto used = segments_in_range(recording, state.start, state.end);
  if (used.empty()) {
    *error = "no segment covers the range";
    return false;
  }
  if (!probe_segment(recording.segment_path(*used.front()), recording.manifest.format, &caps,
                     error)) {
    return false;
  }
  state.has_video = caps.video != nullptr;
  state.has_audio = caps.audio != nullptr;
  const char *demuxer = recording.manifest.format == "mkv" ? "matroskademux" : "qtdemux";
  for (const auto *segment : used) {
    {
      std::lock_guard<std::mutex> guard(state.lock);
      state.segment_start = segment->start_ns;
      state.rebase = recording.manifest.format == "mkv";
      state.have_file_origin = false;
      state.early.clear();
    }
    Reader reader;
    reader.state = &state;
    reader.pipeline = sink(gst_pipeline_new("feed-reader"));
    GstElement *src = gst_element_factory_make("filesrc", nullptr);
    GstElement *demux = gst_element_factory_make(demuxer, nullptr);
    if (!src || !demux) {
      for (GstElement *e : {src, demux}) {
        if (e) {
          gst_object_unref(gst_object_ref_sink(e));
        }
      }
      *error = std::string("cannot read the recording: filesrc or ") + demuxer + " is missing";
      return false;
    }
    g_object_set(src, "location", recording.segment_path(*segment).c_str(), nullptr);
    gst_bin_add_many(GST_BIN(reader.pipeline.get()), src, demux, nullptr);
    gst_element_link(src, demux);
    g_signal_connect(demux, "pad-added", G_CALLBACK(on_pad_added), &reader);
    GstPtr<GstBus> bus(gst_element_get_bus(reader.pipeline.get()));
    gst_element_set_state(reader.pipeline.get(), GST_STATE_PLAYING);
    bool segment_ok = true;
    for (;;) {
      MiniPtr<GstMessage> message(gst_bus_timed_pop_filtered(
          bus.get(), kPollInterval,
          static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
      if (options.cancelled && options.cancelled()) {
        *error = "cancelled";
        segment_ok = false;
        break;
      }
      {
        std::lock_guard<std::mutex> guard(state.lock);
        if (!state.error.empty()) {
          *error = state.error;
          segment_ok = false;
          break;
        }
        if ((!state.has_video || state.video_done) && (!state.has_audio || state.audio_done)) {
          break;
        }
      }
      if (message && GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
        *error = recording.segment_path(*segment) + ": " + message_text(message.get());
        segment_ok = false;
        break;
      }
      if (message) {
        break;  // EOS: the next segment
      }
    }
    gst_element_set_state(reader.pipeline.get(), GST_STATE_NULL);
    if (!segment_ok) {
      return false;
    }
    {
      // A segment without video: its audio starts at its first frame.
      std::vector<Output> out;
      {
        std::lock_guard<std::mutex> guard(state.lock);
        if (!state.have_file_origin && !state.early.empty()) {
          set_file_origin(state, state.early.front().pts, &out);
        }
      }
      deliver(state, out);
    }
    std::lock_guard<std::mutex> guard(state.lock);
    if (!state.error.empty()) {
      *error = state.error;
      return false;
    }
    if ((!state.has_video || state.video_done) && (!state.has_audio || state.audio_done)) {
      break;
    }
  }
  std::lock_guard<std::mutex> guard(state.lock);
  if (!state.have_origin) {
    *error = "no media inside the range";
    return false;
  }
  *result = state.result;
  return true;
}

}  // namespace livepipe::replay
