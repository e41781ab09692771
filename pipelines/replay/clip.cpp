#include "clip.h"

#include "feed.h"

#include "mp4boxes.h"
#include "util/gstptr.h"

#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <gst/audio/audio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace livepipe::replay {
namespace {

constexpr GstClockTime kPollInterval = 100 * GST_MSECOND;

// Shared between the reader's streaming thread and the job's thread.
struct ClipState {
  const ClipOptions *options = nullptr;
  uint64_t start = 0;
  uint64_t end = 0;
  std::mutex lock;
  GstElement *video_src = nullptr;  // output appsrcs (owned by the output pipeline)
  GstElement *audio_src = nullptr;
  // Frames waiting to go to each appsrc (see `send`).
  GstBufferList *video_batch = nullptr;
  GstBufferList *audio_batch = nullptr;
  GstCaps *video_caps = nullptr;  // first segment's caps
  GstCaps *audio_caps = nullptr;
  std::string error;
  // Per segment.
  uint64_t segment_start = 0;
  // Matroska segments keep the recorder's timestamps (a segment starting at
  // 2 s holds 2 s, where an MP4 segment starts at 0): such files are moved to
  // start at 0 from their first timestamp.
  // The origin is the file's first video frame (the keyframe the segment
  // starts with, at the segment's start in the manifest), not its first
  // frame of any stream: audio can precede it by more than a frame, and a
  // segment moved by that much overlaps its neighbour, which the VP8
  // decoder takes for reordered output and then leaves frames without a
  // timestamp (the MP4 muxer's "Could not multiplex stream"). Audio read
  // before that frame waits in `early_audio`.
  bool rebase_files = false;
  bool have_file_origin = false;
  uint64_t file_origin = 0;
  std::vector<GstBuffer *> early_audio;
  // Clip timeline.
  bool have_origin = false;
  uint64_t origin = 0;
  std::vector<GstBuffer *> pending_video;  // the GOP holding start_ns
  std::deque<GstBuffer *> pending_audio;
  bool video_done = false;
  bool audio_done = false;
  bool range_complete_posted = false;
  bool has_video = false;
  bool has_audio = false;
  std::atomic<uint64_t> position{0};
  uint64_t video_frames = 0;
  uint64_t audio_packets = 0;
  uint64_t last_end = 0;
  // The accurate cut in the clip timeline, known once the origin is; read by
  // the output's streaming threads, which must never wait for `lock`.
  std::atomic<uint64_t> cut_start{0};
  std::atomic<uint64_t> cut_stop{UINT64_MAX};

  ~ClipState() {
    for (auto *list : {video_batch, audio_batch}) {
      if (list) {
        gst_buffer_list_unref(list);
      }
    }
    for (auto *b : early_audio) {
      gst_buffer_unref(b);
    }
    for (auto *b : pending_video) {
      gst_buffer_unref(b);
    }
    for (auto *b : pending_audio) {
      gst_buffer_unref(b);
    }
    if (video_caps) {
      gst_caps_unref(video_caps);
    }
    if (audio_caps) {
      gst_caps_unref(audio_caps);
    }
  }
};

// Recording-timeline time of a buffer of the current segment.
uint64_t recording_time(const ClipState &state, GstClockTime ts) {
  return state.segment_start + (GST_CLOCK_TIME_IS_VALID(ts) ? ts : 0);
}

// Frames go to an appsrc in lists: its thread is woken once per list
// rather than once per frame. A list is short enough (about half a second
// of video) for the muxer never to wait long for one stream while the
// other's list fills.
constexpr guint kBatchFrames = 16;

void send(ClipState &state, GstElement *appsrc, GstBuffer *buffer) {
  GstBufferList *&batch = appsrc == state.video_src ? state.video_batch : state.audio_batch;
  if (!batch) {
    batch = gst_buffer_list_new_sized(kBatchFrames);
  }
  gst_buffer_list_add(batch, buffer);
  if (gst_buffer_list_length(batch) >= kBatchFrames) {
    gst_app_src_push_buffer_list(GST_APP_SRC(appsrc), std::exchange(batch, nullptr));
  }
}

// Under the lock: hands the frames still in lists to the appsrcs.
void send_batches(ClipState &state) {
  for (auto [src, batch] : {std::pair{state.video_src, &state.video_batch},
                            std::pair{state.audio_src, &state.audio_batch}}) {
    if (src && *batch) {
      gst_app_src_push_buffer_list(GST_APP_SRC(src), std::exchange(*batch, nullptr));
    }
  }
}

// Moves a buffer into the clip timeline and hands it to the output.
void push(ClipState &state, GstElement *appsrc, GstBuffer *buffer) {
  buffer = gst_buffer_make_writable(buffer);
  auto shift = [&](GstClockTime t) -> GstClockTime {
    if (!GST_CLOCK_TIME_IS_VALID(t)) {
      return t;
    }
    uint64_t rec = state.segment_start + t;
    return rec > state.origin ? rec - state.origin : 0;
  };
  GST_BUFFER_PTS(buffer) = shift(GST_BUFFER_PTS(buffer));
  GST_BUFFER_DTS(buffer) = shift(GST_BUFFER_DTS(buffer));
  GstClockTime end = GST_BUFFER_PTS(buffer);
  if (GST_CLOCK_TIME_IS_VALID(GST_BUFFER_DURATION(buffer))) {
    end += GST_BUFFER_DURATION(buffer);
  }
  state.last_end = std::max<uint64_t>(state.last_end, end);
  send(state, appsrc, buffer);
}

// Pending buffers carry segment-relative times of the segment they came
// from; rewrite them to recording time before the segment changes.
GstBuffer *to_recording_time(const ClipState &state, GstBuffer *buffer) {
  buffer = gst_buffer_make_writable(buffer);
  if (GST_BUFFER_PTS_IS_VALID(buffer)) {
    GST_BUFFER_PTS(buffer) += state.segment_start;
  }
  if (GST_BUFFER_DTS_IS_VALID(buffer)) {
    GST_BUFFER_DTS(buffer) += state.segment_start;
  }
  return buffer;
}

void push_recording_time(ClipState &state, GstElement *appsrc, GstBuffer *buffer) {
  uint64_t saved = state.segment_start;
  state.segment_start = 0;
  push(state, appsrc, buffer);
  state.segment_start = saved;
}

void set_origin(ClipState &state, uint64_t origin) {
  state.have_origin = true;
  state.origin = origin;
  state.cut_start = state.start > origin ? state.start - origin : 0;
  state.cut_stop = state.end - origin;
}

void flush_pending(ClipState &state) {
  for (auto *b : state.pending_video) {
    push_recording_time(state, state.video_src, b);
    ++state.video_frames;
  }
  state.pending_video.clear();
  while (!state.pending_audio.empty()) {
    GstBuffer *b = state.pending_audio.front();
    state.pending_audio.pop_front();
    if (GST_BUFFER_PTS(b) >= state.origin && state.audio_src) {
      push_recording_time(state, state.audio_src, b);
      ++state.audio_packets;
    } else {
      gst_buffer_unref(b);
    }
  }
}

void on_video(ClipState &state, GstBuffer *buffer) {
  uint64_t pts = recording_time(state, GST_BUFFER_PTS(buffer));
  bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  state.position = pts;
  if (state.video_done) {
    return;
  }
  if (pts >= state.end) {
    state.video_done = true;
    return;
  }
  gst_buffer_ref(buffer);
  if (state.have_origin) {
    push(state, state.video_src, buffer);
    ++state.video_frames;
    return;
  }
  if (keyframe && (pts <= state.start || state.pending_video.empty())) {
    for (auto *b : state.pending_video) {
      gst_buffer_unref(b);
    }
    state.pending_video.clear();
    // Audio before this keyframe can no longer be part of the clip.
    while (!state.pending_audio.empty() && GST_BUFFER_PTS(state.pending_audio.front()) < pts) {
      gst_buffer_unref(state.pending_audio.front());
      state.pending_audio.pop_front();
    }
  } else if (state.pending_video.empty()) {
    gst_buffer_unref(buffer);  // not decodable without its keyframe
    return;
  }
  state.pending_video.push_back(to_recording_time(state, buffer));
  if (pts > state.start || (keyframe && pts == state.start)) {
    set_origin(state, GST_BUFFER_PTS(state.pending_video.front()));
    flush_pending(state);
  }
}

void on_audio(ClipState &state, GstBuffer *buffer) {
  uint64_t pts = recording_time(state, GST_BUFFER_PTS(buffer));
  if (!state.has_video) {
    state.position = pts;
  }
  if (state.audio_done) {
    return;
  }
  if (pts >= state.end) {
    state.audio_done = true;
    return;
  }
  gst_buffer_ref(buffer);
  if (!state.has_video && !state.have_origin && pts >= state.start) {
    set_origin(state, pts);
  }
  if (state.have_origin) {
    if (pts >= state.origin) {
      push(state, state.audio_src, buffer);
      ++state.audio_packets;
    } else {
      gst_buffer_unref(buffer);
    }
    return;
  }
  state.pending_audio.push_back(to_recording_time(state, buffer));
}

struct PadBinding {
  ClipState *state;
  bool video;
  bool checked = false;
  GstClockTime next_pts = GST_CLOCK_TIME_NONE;  // the previous buffer's end
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;
};

bool needs_h264(GstCaps *video_caps);

// A Matroska segment's time moved to start at 0 from its origin; transfer
// none of a writable buffer.
GstBuffer *rebase(const ClipState &state, GstBuffer *b) {
  for (GstClockTime *t : {&GST_BUFFER_PTS(b), &GST_BUFFER_DTS(b)}) {
    if (GST_CLOCK_TIME_IS_VALID(*t)) {
      *t = *t > state.file_origin ? *t - state.file_origin : 0;
    }
  }
  return b;
}

// Places the audio that came before the segment's origin was known.
void set_file_origin(ClipState &state, GstClockTime origin) {
  state.have_file_origin = true;
  state.file_origin = origin;
  std::vector<GstBuffer *> early = std::move(state.early_audio);
  state.early_audio.clear();
  for (GstBuffer *b : early) {
    MiniPtr<GstBuffer> held(gst_buffer_make_writable(b));
    if (state.audio_src) {
      on_audio(state, rebase(state, held.get()));
    }
  }
}

GstPadProbeReturn on_stream_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *binding = static_cast<PadBinding *>(data);
  ClipState &state = *binding->state;
  std::lock_guard<std::mutex> guard(state.lock);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!binding->checked) {
    binding->checked = true;
    MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
    GstCaps *expected = binding->video ? state.video_caps : state.audio_caps;
    if (!caps || !expected || !same_codec(expected, caps.get())) {
      state.error =
          "the recording's codec parameters change inside the range (a restarted encoder); "
          "clip the parts before and after the change separately";
      state.video_done = state.audio_done = true;
    }
  }
  if (!state.error.empty()) {
    return GST_PAD_PROBE_DROP;
  }
  // Changes go to a copy: the demuxer's buffer is not ours to change. It
  // goes no further than this probe (the reader's sink has nothing to do).
  MiniPtr<GstBuffer> copy;
  auto writable = [&] {
    if (!copy) {
      copy.reset(gst_buffer_copy(buffer));
      buffer = copy.get();
    }
    return copy.get();
  };
  // matroskademux leaves all but the first frame of a laced block without a
  // timestamp, which the MP4 muxer refuses: they follow the previous frame.
  if (!GST_BUFFER_PTS_IS_VALID(buffer)) {
    if (!GST_CLOCK_TIME_IS_VALID(binding->next_pts)) {
      return GST_PAD_PROBE_DROP;  // nowhere to place it in the clip
    }
    GST_BUFFER_PTS(writable()) = binding->next_pts;
  }
  binding->next_pts = GST_BUFFER_DURATION_IS_VALID(buffer)
                          ? GST_BUFFER_PTS(buffer) + GST_BUFFER_DURATION(buffer)
                          : GST_CLOCK_TIME_NONE;
  // A live VP8 stream can carry frames with one timestamp (a burst after a
  // loss); VP8 has no reordering, so they are spread a microsecond apart for
  // the decoder and the H.264 encoder, which need each frame's own time.
  if (binding->video && needs_h264(state.video_caps)) {
    if (GST_CLOCK_TIME_IS_VALID(binding->last_pts) && GST_BUFFER_PTS(buffer) <= binding->last_pts) {
      GstBuffer *b = writable();
      GST_BUFFER_PTS(b) = binding->last_pts + GST_USECOND;
      GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    }
    binding->last_pts = GST_BUFFER_PTS(buffer);
  }
  if (state.rebase_files) {
    if (!state.have_file_origin) {
      if (!binding->video && state.has_video) {
        state.early_audio.push_back(gst_buffer_ref(buffer));
        return GST_PAD_PROBE_DROP;
      }
      set_file_origin(state, GST_BUFFER_PTS(buffer));
    }
    buffer = rebase(state, writable());
  }
  if (binding->video) {
    on_video(state, buffer);
  } else if (state.audio_src) {
    on_audio(state, buffer);
  }
  // The range is complete before the segment's end: wake the job's wait
  // at once rather than at its next poll.
  if (!state.range_complete_posted && (!state.has_video || state.video_done) &&
      (!state.has_audio || state.audio_done)) {
    state.range_complete_posted = true;
    if (GstPtr<GstElement> demux{gst_pad_get_parent_element(pad)}) {
      gst_element_post_message(
          demux.get(), gst_message_new_application(GST_OBJECT(demux.get()),
                                                   gst_structure_new_empty("clip-range-read")));
    }
  }
  return GST_PAD_PROBE_DROP;
}

// Demuxer pads: the first video and the first audio stream go to the clip.
struct ReaderContext {
  ClipState *state;
  GstElement *pipeline;
  bool have_video = false;
  bool have_audio = false;
  std::vector<std::unique_ptr<PadBinding>> bindings;
};

void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *reader = static_cast<ReaderContext *>(data);
  ClipState &state = *reader->state;
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
  const char *media = caps && gst_caps_get_size(caps.get())
                          ? gst_structure_get_name(gst_caps_get_structure(caps.get(), 0))
                          : "";
  bool video = g_str_has_prefix(media, "video/");
  bool audio = g_str_has_prefix(media, "audio/");
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add(GST_BIN(reader->pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sink_pad);
  gst_object_unref(sink_pad);
  bool take = (video && !reader->have_video) || (audio && !reader->have_audio);
  if (!take) {
    return;
  }
  {
    std::lock_guard<std::mutex> guard(state.lock);
    if (!(video ? state.video_caps : state.audio_caps)) {
      return;  // the first segment has no such stream: the clip has none
    }
  }
  (video ? reader->have_video : reader->have_audio) = true;
  auto binding = std::make_unique<PadBinding>(PadBinding{&state, video});
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_stream_buffer, binding.get(), nullptr);
  reader->bindings.push_back(std::move(binding));
}

// A fragmented MP4 segment seen without the fragments before `resume`: its
// header (ftyp and moov) followed at once by the fragment at `resume` and
// the rest of the file. Each fragment's tfdt keeps its time, so the demuxer
// gives the frames the same timestamps as when it reads the whole file.
struct SplicedFile {
  int fd = -1;
  uint64_t head = 0;       // bytes kept from the start of the file
  uint64_t resume = 0;     // where the file is read again after them
  uint64_t size = 0;       // of the spliced file
  uint64_t offset = 0;     // the next byte the demuxer asks for
  uint64_t resume_ns = 0;  // the decode time of the fragment at `resume`
  SplicedFile() = default;
  SplicedFile(const SplicedFile &) = delete;
  SplicedFile &operator=(const SplicedFile &) = delete;
  ~SplicedFile() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  bool read(uint64_t at, uint8_t *out, size_t length) const {
    while (length > 0) {
      uint64_t file_at = at < head ? at : at - head + resume;
      size_t part = at < head ? static_cast<size_t>(std::min<uint64_t>(length, head - at)) : length;
      ssize_t n = ::pread(fd, out, part, static_cast<off_t>(file_at));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      at += static_cast<uint64_t>(n);
      out += n;
      length -= static_cast<size_t>(n);
    }
    return true;
  }
};

// The fragments that can be left unread at the start of a segment when the
// clip starts `start_ns` into it. The clip starts on the last keyframe at or
// before `start_ns`, which is at or after `anchor`: the last fragment that
// starts with a keyframe a margin before `start_ns` (a keyframe's
// presentation time can follow its decode time). Its audio can be stored in
// the fragments just before the anchor, so reading resumes at the last
// fragment of any track a margin before the anchor. Nothing is skipped when
// the segment is not a fragmented MP4 starting at 0, or within 2 s of its
// start: the demuxer places a first fragment by its tfdt only when that is
// more than a second from 0.
constexpr uint64_t kSkipMargin = GST_SECOND;
constexpr uint64_t kMinSkip = 2 * GST_SECOND;

std::unique_ptr<SplicedFile> splice_before(const std::string &path, uint64_t start_ns) {
  if (start_ns < kMinSkip + 2 * kSkipMargin) {
    return nullptr;
  }
  auto file = std::make_unique<SplicedFile>();
  file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) {
    return nullptr;
  }
  record::FragmentIndex index;
  if (!record::index_fragmented_mp4_fd(file->fd, &index, nullptr) || index.timescale == 0 ||
      index.fragments.empty() || index.fragments.front().decode_time != 0) {
    return nullptr;
  }
  auto time_of = [&](const record::Fragment &fragment) {
    return gst_util_uint64_scale(fragment.decode_time, GST_SECOND, index.timescale);
  };
  std::optional<uint64_t> anchor;
  for (const auto &fragment : index.fragments) {
    if (time_of(fragment) + kSkipMargin > start_ns) {
      break;
    }
    if (fragment.starts_with_keyframe) {
      anchor = time_of(fragment);
    }
  }
  if (!anchor || *anchor < kMinSkip + kSkipMargin) {
    return nullptr;
  }
  const record::Fragment *from = nullptr;
  for (const auto &fragment : index.fragments) {
    if (time_of(fragment) + kSkipMargin > *anchor) {
      break;
    }
    if (time_of(fragment) >= kMinSkip) {
      from = &fragment;
    }
  }
  if (!from || from->offset < index.init_size) {
    return nullptr;
  }
  file->head = index.init_size;
  file->resume = from->offset;
  file->size = index.init_size + (index.complete_size - from->offset);
  file->resume_ns = time_of(*from);
  return file;
}

void on_need_data(GstAppSrc *src, guint length, gpointer data) {
  auto *file = static_cast<SplicedFile *>(data);
  if (file->offset >= file->size) {
    gst_app_src_end_of_stream(src);
    return;
  }
  size_t want =
      static_cast<size_t>(std::min<uint64_t>(length ? length : 65536, file->size - file->offset));
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, want, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  bool ok = file->read(file->offset, map.data, want);
  gst_buffer_unmap(buffer, &map);
  if (!ok) {
    gst_buffer_unref(buffer);
    GST_ELEMENT_ERROR(src, RESOURCE, READ, ("cannot read the segment"), (nullptr));
    gst_app_src_end_of_stream(src);  // the demuxer's pull must not wait for data
    return;
  }
  GST_BUFFER_OFFSET(buffer) = file->offset;
  file->offset += want;
  gst_app_src_push_buffer(src, buffer);
}

gboolean on_seek_data(GstAppSrc *, guint64 offset, gpointer data) {
  static_cast<SplicedFile *>(data)->offset = offset;
  return TRUE;
}

// `spliced`, when set, is read instead of the file at `path` and must
// outlive the reader.
GstPtr<GstElement> make_reader(const std::string &path, const std::string &format,
                               SplicedFile *spliced, ReaderContext *context) {
  GstPtr<GstElement> pipeline = sink(gst_pipeline_new("clip-reader"));
  GstElement *src = gst_element_factory_make(spliced ? "appsrc" : "filesrc", nullptr);
  GstElement *demux =
      gst_element_factory_make(format == "mkv" ? "matroskademux" : "qtdemux", nullptr);
  if (!src || !demux) {
    for (GstElement *e : {src, demux}) {
      if (e) {
        gst_object_unref(gst_object_ref_sink(e));
      }
    }
    return nullptr;
  }
  if (spliced) {
    // Random access: the demuxer pulls ranges on its own thread, as from
    // filesrc, and the callbacks answer each pull on that thread.
    g_object_set(src, "stream-type", GST_APP_STREAM_TYPE_RANDOM_ACCESS, "size",
                 static_cast<gint64>(spliced->size), nullptr);
    GstAppSrcCallbacks callbacks{};
    callbacks.need_data = on_need_data;
    callbacks.seek_data = on_seek_data;
    gst_app_src_set_callbacks(GST_APP_SRC(src), &callbacks, spliced, nullptr);
  } else {
    g_object_set(src, "location", path.c_str(), nullptr);
  }
  gst_bin_add_many(GST_BIN(pipeline.get()), src, demux, nullptr);
  gst_element_link(src, demux);
  context->pipeline = pipeline.get();
  g_signal_connect(demux, "pad-added", G_CALLBACK(on_pad_added), context);
  return pipeline;
}

// Reads the caps of the first segment's streams.
bool probe_streams(const std::string &path, const std::string &format, ClipState *state,
                   std::string *error) {
  SegmentCaps caps;
  if (!probe_segment(path, format, &caps, error)) {
    return false;
  }
  state->video_caps = caps.video.release();
  state->audio_caps = caps.audio.release();
  return true;
}

// The accurate path cuts decoded media to [start, end) of the request.
struct AccurateCut {
  ClipState *state = nullptr;
};

GstPadProbeReturn on_decoded_video(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *cut = static_cast<AccurateCut *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  uint64_t start = cut->state->cut_start;
  if (!GST_CLOCK_TIME_IS_VALID(pts) || pts < start || pts >= cut->state->cut_stop) {
    return GST_PAD_PROBE_DROP;
  }
  buffer = gst_buffer_make_writable(buffer);
  GST_BUFFER_PTS(buffer) = pts - start;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn on_decoded_audio(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *cut = static_cast<AccurateCut *>(data);
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
  GstAudioInfo audio;
  if (!caps || !gst_audio_info_from_caps(&audio, caps.get())) {
    return GST_PAD_PROBE_DROP;
  }
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  uint64_t start = cut->state->cut_start;
  segment.start = start;
  segment.stop = cut->state->cut_stop;
  GstBuffer *buffer =
      gst_audio_buffer_clip(GST_PAD_PROBE_INFO_BUFFER(info), &segment, GST_AUDIO_INFO_RATE(&audio),
                            GST_AUDIO_INFO_BPF(&audio));
  if (!buffer) {
    GST_PAD_PROBE_INFO_DATA(info) = nullptr;
    return GST_PAD_PROBE_HANDLED;
  }
  buffer = gst_buffer_make_writable(buffer);
  GST_BUFFER_PTS(buffer) -= start;
  GST_BUFFER_OFFSET(buffer) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_OFFSET_END(buffer) = GST_BUFFER_OFFSET_NONE;
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  return GST_PAD_PROBE_OK;
}

// MP4 cannot hold VP8 (mp4mux refuses it): such video is re-encoded to
// H.264 even in a keyframe cut, which still starts on the keyframe.
bool needs_h264(GstCaps *video_caps) {
  return video_caps && gst_caps_get_size(video_caps) > 0 &&
         gst_structure_has_name(gst_caps_get_structure(video_caps, 0), "video/x-vp8");
}

// Each appsrc pushes from its own thread and holds up to 32 MB: a queue
// after it would only add a thread and a hand-off per frame. The muxer's
// latency lets each of its pads hold half a second, so an appsrc thread
// does not wait for the muxer after every frame.
std::string output_description(const ClipOptions &options, bool video, bool video_to_h264,
                               bool audio, unsigned video_kbps) {
  std::string d;
  if (video) {
    d += "appsrc name=v format=time max-bytes=33554432 block=true ! ";
    if (options.accurate || video_to_h264) {
      d += std::string("decodebin ! ") + (options.accurate ? "identity name=vcut ! " : "") +
           "videoconvert ! x264enc speed-preset=veryfast bitrate=" + std::to_string(video_kbps) +
           " key-int-max=60 ! h264parse ! ";
    }
    d += "mux.video_0 ";
  }
  if (audio) {
    d += "appsrc name=a format=time max-bytes=33554432 block=true ! ";
    if (options.accurate) {
      d +=
          "decodebin ! identity name=acut ! audioconvert ! audioresample ! avenc_aac ! aacparse ! ";
    }
    d += "mux.audio_0 ";
  }
  d += "mp4mux name=mux latency=500000000 ! filesink name=out";
  return d;
}

// Waits for EOS or an error on `bus`, reporting progress meanwhile.
bool wait_for(GstBus *bus, ClipState &state, const std::function<bool()> &stop_early,
              std::string *error) {
  for (;;) {
    MiniPtr<GstMessage> message(
        gst_bus_timed_pop_filtered(bus, kPollInterval,
                                   static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
                                                               GST_MESSAGE_APPLICATION)));
    if (state.options->progress && state.end > state.start) {
      uint64_t pos = std::clamp<uint64_t>(state.position.load(), state.start, state.end);
      state.options->progress(static_cast<double>(pos - state.start) /
                              static_cast<double>(state.end - state.start));
    }
    if (state.options->cancelled && state.options->cancelled()) {
      *error = "cancelled";
      return false;
    }
    if (!message || GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_APPLICATION) {
      if (stop_early && stop_early()) {
        return true;
      }
      continue;
    }
    if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
      *error = message_text(message.get());
      return false;
    }
    return true;
  }
}

}  // namespace

bool clip_recording(const Recording &recording, const ClipOptions &options, ClipResult *result,
                    std::string *error) {
  const auto &segments = recording.manifest.segments;
  uint64_t total = recording.manifest.duration_ns();
  if (segments.empty() || total == 0) {
    *error = "the recording has no media";
    return false;
  }
  ClipState state;
  state.options = &options;
  state.start = options.start_ns;
  state.end = std::min(options.end_ns, total);
  if (state.start >= state.end) {
    *error = "empty range: start " + std::to_string(state.start / 1e9) + " s is not before end " +
             std::to_string(state.end / 1e9) + " s (the recording lasts " +
             std::to_string(total / 1e9) + " s)";
    return false;
  }
  auto used = segments_in_range(recording, state.start, state.end);
  if (used.empty()) {
    *error = "no segment covers the range";
    return false;
  }
  if (!probe_streams(recording.segment_path(*used.front()), recording.manifest.format, &state,
                     error)) {
    return false;
  }
  state.has_video = state.video_caps != nullptr;
  state.has_audio = state.audio_caps != nullptr;
  if (options.accurate && !state.has_video && !state.has_audio) {
    *error = "nothing to clip";
    return false;
  }

  uint64_t bytes = 0;
  uint64_t duration = 0;
  for (const auto *s : used) {
    bytes += s->size;
    duration += s->duration_ns;
  }
  unsigned kbps = duration ? static_cast<unsigned>(bytes * 8 * 1000000ull / duration) : 2000;
  kbps = std::clamp(kbps, 300u, 20000u);

  GError *gerror = nullptr;
  GstElement *parsed =
      gst_parse_launch(output_description(options, state.has_video, needs_h264(state.video_caps),
                                          state.has_audio, kbps)
                           .c_str(),
                       &gerror);
  if (!parsed || gerror) {
    *error = std::string("cannot build the clip pipeline: ") +
             (gerror ? gerror->message : "unknown error");
    g_clear_error(&gerror);
    if (parsed) {
      gst_object_unref(parsed);
    }
    return false;
  }
  GstPtr<GstElement> output = sink(parsed);
  GstPtr<GstElement> out_sink(gst_bin_get_by_name(GST_BIN(output.get()), "out"));
  g_object_set(out_sink.get(), "location", options.output.c_str(), nullptr);
  GstPtr<GstElement> video_src(gst_bin_get_by_name(GST_BIN(output.get()), "v"));
  GstPtr<GstElement> audio_src(gst_bin_get_by_name(GST_BIN(output.get()), "a"));
  if (video_src) {
    gst_app_src_set_caps(GST_APP_SRC(video_src.get()), state.video_caps);
  }
  if (audio_src) {
    gst_app_src_set_caps(GST_APP_SRC(audio_src.get()), state.audio_caps);
  }
  state.video_src = video_src.get();
  state.audio_src = audio_src.get();

  AccurateCut vcut;
  AccurateCut acut;
  if (options.accurate) {
    for (auto [name, cut, probe] : {std::tuple{"vcut", &vcut, &on_decoded_video},
                                    std::tuple{"acut", &acut, &on_decoded_audio}}) {
      GstPtr<GstElement> identity(gst_bin_get_by_name(GST_BIN(output.get()), name));
      if (!identity) {
        continue;
      }
      GstPtr<GstPad> pad(gst_element_get_static_pad(identity.get(), "sink"));
      cut->state = &state;
      gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, probe, cut, nullptr);
    }
  }
  GstPtr<GstBus> output_bus(gst_element_get_bus(output.get()));
  if (gst_element_set_state(output.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::string why = "cannot start the clip pipeline";
    MiniPtr<GstMessage> message(gst_bus_pop_filtered(output_bus.get(), GST_MESSAGE_ERROR));
    if (message) {
      why = message_text(message.get());
    }
    gst_element_set_state(output.get(), GST_STATE_NULL);
    *error = why;
    return false;
  }

  bool ok = true;
  for (const auto *s : used) {
    {
      std::lock_guard<std::mutex> guard(state.lock);
      // Pending buffers were converted to recording time already.
      state.segment_start = s->start_ns;
      state.rebase_files = recording.manifest.format == "mkv";
      state.have_file_origin = false;
    }
    // The first segment is read from a fragment a little before the
    // keyframe the clip starts on, not from its beginning.
    std::unique_ptr<SplicedFile> spliced;
    if (s == used.front() && options.skip_to_start && recording.manifest.format == "mp4" &&
        state.start > s->start_ns) {
      spliced = splice_before(recording.segment_path(*s), state.start - s->start_ns);
    }
    if (s == used.front()) {
      result->read_from_ns = s->start_ns + (spliced ? spliced->resume_ns : 0);
    }
    ReaderContext context{&state, nullptr};
    GstPtr<GstElement> reader =
        make_reader(recording.segment_path(*s), recording.manifest.format, spliced.get(), &context);
    if (!reader) {
      *error = "cannot build a reader (qtdemux/matroskademux missing)";
      ok = false;
      break;
    }
    GstPtr<GstBus> bus(gst_element_get_bus(reader.get()));
    gst_element_set_state(reader.get(), GST_STATE_PLAYING);
    auto done = [&]() {
      std::lock_guard<std::mutex> guard(state.lock);
      return (!state.has_video || state.video_done) && (!state.has_audio || state.audio_done);
    };
    // The output may fail meanwhile (disk full...): check it too.
    ok = wait_for(bus.get(), state, done, error);
    gst_element_set_state(reader.get(), GST_STATE_NULL);
    {
      // A segment without video: its audio starts at its first frame.
      std::lock_guard<std::mutex> guard(state.lock);
      if (!state.have_file_origin && !state.early_audio.empty()) {
        set_file_origin(state, GST_BUFFER_PTS(state.early_audio.front()));
      }
    }
    if (ok) {
      MiniPtr<GstMessage> failure(gst_bus_pop_filtered(output_bus.get(), GST_MESSAGE_ERROR));
      if (failure) {
        *error = message_text(failure.get());
        ok = false;
      }
    }
    {
      std::lock_guard<std::mutex> guard(state.lock);
      if (!state.error.empty()) {
        *error = state.error;
        ok = false;
      }
    }
    if (!ok || done()) {
      break;
    }
  }
  if (ok) {
    {
      std::lock_guard<std::mutex> guard(state.lock);
      if (!state.have_origin && !state.pending_video.empty()) {
        set_origin(state, GST_BUFFER_PTS(state.pending_video.front()));
        flush_pending(state);
      }
      send_batches(state);
    }
    if (!state.have_origin) {
      *error = "no media inside the range";
      ok = false;
    }
  }
  if (ok) {
    if (video_src) {
      gst_app_src_end_of_stream(GST_APP_SRC(video_src.get()));
    }
    if (audio_src) {
      gst_app_src_end_of_stream(GST_APP_SRC(audio_src.get()));
    }
    ok = wait_for(output_bus.get(), state, nullptr, error);
  } else {
    // Unblock appsrc pushes and stop.
    if (video_src) {
      gst_app_src_end_of_stream(GST_APP_SRC(video_src.get()));
    }
    if (audio_src) {
      gst_app_src_end_of_stream(GST_APP_SRC(audio_src.get()));
    }
  }
  gst_element_set_state(output.get(), GST_STATE_NULL);
  if (!ok) {
    return false;
  }
  if (options.progress) {
    options.progress(1.0);
  }
  result->start_ns = options.accurate ? state.start : state.origin;
  uint64_t media_end = options.accurate ? state.end - state.origin : state.last_end;
  uint64_t clip_start = options.accurate ? state.start - state.origin : 0;
  result->duration_ns = media_end > clip_start ? media_end - clip_start : 0;
  result->video_frames = state.video_frames;
  result->audio_packets = state.audio_packets;
  return true;
}

}  // namespace livepipe::replay
