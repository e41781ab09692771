#include "hls.h"

#include "feed.h"
#include "mp4boxes.h"
#include "util/gstptr.h"

#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

namespace livepipe::replay {
namespace {

struct FdCloser {
  void operator()(int *fd) const {
    if (*fd >= 0) {
      ::close(*fd);
    }
    delete fd;
  }
};
using Fd = std::unique_ptr<int, FdCloser>;

bool copy_range(int in, uint64_t offset, uint64_t length, const std::string &out_path, bool append,
                std::string *error) {
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
                   0644);
  if (out < 0) {
    *error = "cannot write '" + out_path + "': " + std::strerror(errno);
    return false;
  }
  Fd guard(new int(out));
  std::vector<char> buffer(1 << 20);
  while (length > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(length, buffer.size()));
    ssize_t n = ::pread(in, buffer.data(), want, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      *error = "short read while copying to '" + out_path + "'";
      return false;
    }
    size_t done = 0;
    while (done < static_cast<size_t>(n)) {
      ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n) - done);
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w <= 0) {
        *error = "cannot write '" + out_path + "': " + std::strerror(errno);
        return false;
      }
      done += static_cast<size_t>(w);
    }
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return true;
}

bool write_all(const std::string &out_path, const std::vector<uint8_t> &data, std::string *error) {
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    *error = "cannot write '" + out_path + "': " + std::strerror(errno);
    return false;
  }
  Fd guard(new int(out));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(out, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      *error = "cannot write '" + out_path + "': " + std::strerror(errno);
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

bool read_range(int in, uint64_t offset, uint64_t length, std::vector<uint8_t> *out,
                std::string *error) {
  out->resize(static_cast<size_t>(length));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n =
        ::pread(in, out->data() + done, out->size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      *error = "short read";
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  return text;
}

// Cuts the fragments of an MP4 recording of H.264 (or audio alone) into HLS
// media segments.
bool segment_fmp4(const Recording &recording, const HlsOptions &options, HlsResult *result,
                  std::string *error) {
  namespace fs = std::filesystem;
  if (recording.manifest.segments.empty()) {
    *error = "the recording has no media";
    return false;
  }
  if (!(options.target_duration >= 1.0 && options.target_duration <= 60.0)) {
    *error = "target duration must be between 1 and 60 seconds";
    return false;
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    *error = "cannot create '" + options.directory + "': " + ec.message();
    return false;
  }
  uint64_t total_bytes = 0;
  for (const auto &s : recording.manifest.segments) {
    total_bytes += s.size;
  }
  uint64_t copied = 0;

  std::string body;
  double longest = 0;
  size_t media_count = 0;
  double total_seconds = 0;
  bool first_segment = true;
  for (const auto &segment : recording.manifest.segments) {
    if (options.cancelled && options.cancelled()) {
      *error = "cancelled";
      return false;
    }
    std::string source = recording.segment_path(segment);
    int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      *error = "cannot open '" + source + "': " + std::strerror(errno);
      return false;
    }
    Fd in_guard(new int(in));
    record::FragmentIndex index;
    if (!record::index_fragmented_mp4_fd(in, &index, error)) {
      *error = source + ": " + *error;
      return false;
    }
    if (index.fragments.empty() || index.timescale == 0) {
      continue;
    }
    std::string init_name = "init-" + std::to_string(segment.index) + ".mp4";
    if (!copy_range(in, 0, index.init_size, (fs::path(options.directory) / init_name).string(),
                    false, error)) {
      return false;
    }
    // Each recording segment has its own header; its decode times are moved
    // to the recording's timeline so the playlist plays as one timeline. A
    // discontinuity is declared only where that is not possible.
    bool shiftable = true;
    {
      std::vector<uint8_t> probe;
      const auto &f = index.fragments.front();
      shiftable =
          read_range(in, f.offset, f.size, &probe, error) &&
          record::shift_decode_times(probe.data(), probe.size(), index.tracks, segment.start_ns);
    }
    if (!first_segment && !shiftable) {
      body += "#EXT-X-DISCONTINUITY\n";
    }
    first_segment = false;
    body += "#EXT-X-MAP:URI=\"" + init_name + "\"\n";

    size_t i = 0;
    size_t part = 0;
    while (i < index.fragments.size()) {
      if (options.cancelled && options.cancelled()) {
        *error = "cancelled";
        return false;
      }
      std::string name =
          "seg-" + std::to_string(segment.index) + "-" + std::to_string(part++) + ".m4s";
      std::string path = (fs::path(options.directory) / name).string();
      uint64_t ticks = 0;
      size_t first = i;
      // Whole fragments until the target is reached and the next one starts
      // on a keyframe, so every media segment decodes on its own.
      do {
        ticks += index.fragments[i].duration;
        ++i;
      } while (i < index.fragments.size() &&
               (static_cast<double>(ticks) / index.timescale < options.target_duration ||
                !index.fragments[i].starts_with_keyframe));
      uint64_t offset = index.fragments[first].offset;
      uint64_t end = index.fragments[i - 1].offset + index.fragments[i - 1].size;
      std::vector<uint8_t> media;
      if (!read_range(in, offset, end - offset, &media, error)) {
        *error = source + ": " + *error;
        return false;
      }
      if (shiftable &&
          !record::shift_decode_times(media.data(), media.size(), index.tracks, segment.start_ns)) {
        *error = source + ": malformed fragment";
        return false;
      }
      if (!write_all(path, media, error)) {
        return false;
      }
      copied += end - offset;
      double seconds = static_cast<double>(ticks) / index.timescale;
      longest = std::max(longest, seconds);
      total_seconds += seconds;
      body += "#EXTINF:" + format_seconds(seconds) + ",\n" + name + "\n";
      ++media_count;
      if (options.progress && total_bytes) {
        options.progress(std::min(1.0, static_cast<double>(copied) / total_bytes));
      }
    }
  }
  if (media_count == 0) {
    *error = "the recording has no complete fragment";
    return false;
  }
  std::string playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:" +
                         std::to_string(static_cast<int>(std::ceil(longest))) +
                         "\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                         "#EXT-X-INDEPENDENT-SEGMENTS\n" +
                         body + "#EXT-X-ENDLIST\n";
  fs::path playlist_path = fs::path(options.directory) / options.playlist;
  fs::path temp = playlist_path;
  temp += ".tmp";
  FILE *out = std::fopen(temp.c_str(), "wb");
  if (!out || std::fwrite(playlist.data(), 1, playlist.size(), out) != playlist.size()) {
    if (out) {
      std::fclose(out);
    }
    *error = "cannot write '" + playlist_path.string() + "'";
    return false;
  }
  std::fclose(out);
  fs::rename(temp, playlist_path, ec);
  if (ec) {
    *error = "cannot write '" + playlist_path.string() + "': " + ec.message();
    return false;
  }
  if (options.progress) {
    options.progress(1.0);
  }
  result->playlist_path = playlist_path.string();
  result->media_segments = media_count;
  result->duration_seconds = total_seconds;
  return true;
}

// Transcoding for HLS: a recording whose video is not H.264 (VP8, which MP4
// here cannot hold, in Matroska) becomes one fragmented MP4 of H.264 whose
// fragments start on keyframes at the HLS cadence, then is cut as an MP4
// recording is.

constexpr GstClockTime kPollInterval = 100 * GST_MSECOND;
// The share of the progress given to the transcode; cutting is the rest.
constexpr double kTranscodeShare = 0.95;
// Encoded frames waiting in each appsrc: small, so that reading keeps pace
// with encoding and the progress read from the frames fed is the encoder's.
constexpr guint64 kQueuedBytes = 2 * 1024 * 1024;

bool has_name(GstCaps *caps, const char *name) {
  return caps && gst_caps_get_size(caps) > 0 &&
         gst_structure_has_name(gst_caps_get_structure(caps, 0), name);
}

// Opus and AAC go into the fragments as they are; anything else is
// re-encoded to AAC.
bool audio_copied(GstCaps *caps) {
  return has_name(caps, "audio/x-opus") || has_name(caps, "audio/mpeg");
}

// Shared between the reader's streaming thread and the job's thread.
struct Transcode {
  const HlsOptions *options = nullptr;
  GstElement *video_src = nullptr;  // owned by the output pipeline
  GstElement *audio_src = nullptr;
  MiniPtr<GstCaps> video_caps;  // what each appsrc was last given
  MiniPtr<GstCaps> audio_caps;
  GstClockTime last_video = GST_CLOCK_TIME_NONE;
  uint64_t duration_ns = 1;
  std::atomic<uint64_t> position{0};
  std::atomic<bool> cancelled{false};
  std::mutex lock;
  std::string output_error;  // the output pipeline's first error
  bool failed() {
    std::lock_guard<std::mutex> guard(lock);
    return !output_error.empty();
  }
  // The job's thread: its own progress and cancellation.
  bool poll() {
    if (options->progress) {
      options->progress(kTranscodeShare *
                        std::min(1.0, static_cast<double>(position.load()) / duration_ns));
    }
    if (options->cancelled && options->cancelled()) {
      cancelled = true;
    }
    return cancelled;
  }
};

GstBusSyncReply on_output_message(GstBus *, GstMessage *message, gpointer data) {
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    auto *transcode = static_cast<Transcode *>(data);
    std::lock_guard<std::mutex> guard(transcode->lock);
    if (transcode->output_error.empty()) {
      transcode->output_error = message_text(message);
    }
  }
  return GST_BUS_PASS;
}

// The reader's streaming thread: a frame of the recording to its appsrc.
// It waits while the encoder is behind, but never past a cancellation or a
// failed output, so that the reader can always be stopped.
bool feed_frame(Transcode &transcode, bool video, GstBuffer *buffer, GstCaps *caps) {
  GstElement *src = video ? transcode.video_src : transcode.audio_src;
  if (!src) {
    return true;
  }
  MiniPtr<GstCaps> &current = video ? transcode.video_caps : transcode.audio_caps;
  if (caps && (!current || !same_codec(current.get(), caps))) {
    gst_app_src_set_caps(GST_APP_SRC(src), caps);
    current = ref_mini(caps);
  }
  MiniPtr<GstBuffer> copy(gst_buffer_copy(buffer));
  if (video) {
    // A live VP8 stream can carry frames with one timestamp (a burst after
    // a loss); VP8 has no reordering, so they are spread a microsecond apart
    // for the decoder and the encoder, which need each frame's own time.
    GstBuffer *b = copy.get();
    if (GST_CLOCK_TIME_IS_VALID(transcode.last_video) &&
        GST_BUFFER_PTS(b) <= transcode.last_video) {
      GST_BUFFER_PTS(b) = transcode.last_video + GST_USECOND;
    }
    GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    transcode.last_video = GST_BUFFER_PTS(b);
    transcode.position = GST_BUFFER_PTS(b);
  } else if (!transcode.video_src) {
    transcode.position = GST_BUFFER_PTS(buffer);
  }
  while (gst_app_src_get_current_level_bytes(GST_APP_SRC(src)) > kQueuedBytes) {
    if (transcode.cancelled || transcode.failed()) {
      return false;
    }
    g_usleep(5000);
  }
  if (transcode.cancelled || transcode.failed()) {
    return false;
  }
  return gst_app_src_push_buffer(GST_APP_SRC(src), copy.release()) == GST_FLOW_OK;
}

// What the encoder sees: a keyframe forced on the first frame at or after
// each multiple of the target duration (the muxer starts a fragment on each
// keyframe, so the media segments are cut there), and one configuration.
// The muxer takes no new codec configuration mid-stream, so the caps a new
// segment or a change of picture size brings upstream (to the same pinned
// format and size, after scaling; frame rate and colour details may differ)
// are not passed on to the encoder, which would restart with new headers.
struct EncoderInput {
  GstClockTime interval;
  GstClockTime next;
  bool configured = false;
};

GstPadProbeReturn on_encoder_input(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *input = static_cast<EncoderInput *>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_CAPS) {
      return GST_PAD_PROBE_OK;
    }
    if (input->configured) {
      return GST_PAD_PROBE_DROP;
    }
    input->configured = true;
    return GST_PAD_PROBE_OK;
  }
  GstClockTime pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  if (!GST_CLOCK_TIME_IS_VALID(pts) || pts < input->next) {
    return GST_PAD_PROBE_OK;
  }
  while (input->next <= pts) {
    input->next += input->interval;
  }
  gst_pad_send_event(
      pad, gst_video_event_new_downstream_force_key_unit(GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
                                                         GST_CLOCK_TIME_NONE, TRUE, 0));
  return GST_PAD_PROBE_OK;
}

std::string transcode_description(bool video, bool audio, bool copy_audio, unsigned kbps,
                                  unsigned key_int_max, unsigned fragment_ms) {
  std::string d;
  if (video) {
    // No B-frames and the main profile: what every HLS player decodes.
    d += "appsrc name=v format=time ! decodebin ! videoconvert ! videoscale "
         "! capsfilter name=size ! x264enc name=enc speed-preset=veryfast bframes=0 bitrate=" +
         std::to_string(kbps) + " key-int-max=" + std::to_string(key_int_max) +
         " ! video/x-h264,profile=main ! h264parse ! mux.video_0 ";
  }
  if (audio) {
    d += "appsrc name=a format=time ! ";
    if (!copy_audio) {
      d += "decodebin ! audioconvert ! audioresample ! avenc_aac ! aacparse ! ";
    }
    d += "mux.audio_0 ";
  }
  d += "mp4mux name=mux latency=500000000 streamable=true fragment-duration=" +
       std::to_string(fragment_ms) + " ! filesink name=out";
  return d;
}

// Writes `path`, a fragmented MP4 of the whole recording with H.264 video;
// its duration goes to `duration_ns`.
bool transcode_to_fmp4(const Recording &recording, const HlsOptions &options,
                       const std::string &path, uint64_t *duration_ns, std::string *error) {
  const auto &segments = recording.manifest.segments;
  SegmentCaps caps;
  if (!probe_segment(recording.segment_path(segments.front()), recording.manifest.format, &caps,
                     error)) {
    return false;
  }
  bool video = caps.video != nullptr;
  bool audio = caps.audio != nullptr;
  if (!video && !audio) {
    *error = "the recording has no media";
    return false;
  }
  uint64_t bytes = 0;
  for (const auto &s : segments) {
    bytes += s.size;
  }
  uint64_t total = recording.manifest.duration_ns();
  // The recording's own bitrate, as clips re-encode at.
  unsigned kbps = total ? static_cast<unsigned>(bytes * 8 * 1000000ull / total) : 2000;
  kbps = std::clamp(kbps, 300u, 20000u);
  int fps_n = 0;
  int fps_d = 1;
  int width = 0;
  int height = 0;
  if (video) {
    GstStructure *s = gst_caps_get_structure(caps.video.get(), 0);
    gst_structure_get_fraction(s, "framerate", &fps_n, &fps_d);
    gst_structure_get_int(s, "width", &width);
    gst_structure_get_int(s, "height", &height);
  }
  // Recordings of WebRTC have no frame rate in their caps: 30 is assumed.
  double fps = fps_n > 0 && fps_d > 0 ? static_cast<double>(fps_n) / fps_d : 30.0;
  // Keyframes are forced at the cadence by time (see on_encoder_input);
  // this only keeps x264 from placing its own just before them.
  auto key_int_max = static_cast<unsigned>(std::ceil(fps * options.target_duration * 2));
  auto fragment_ms = static_cast<unsigned>(options.target_duration * 1000);

  GError *gerror = nullptr;
  GstElement *parsed =
      gst_parse_launch(transcode_description(video, audio, audio_copied(caps.audio.get()), kbps,
                                             key_int_max, fragment_ms)
                           .c_str(),
                       &gerror);
  if (!parsed || gerror) {
    *error = std::string("cannot build the transcoding pipeline: ") +
             (gerror ? gerror->message : "unknown error");
    g_clear_error(&gerror);
    if (parsed) {
      gst_object_unref(gst_object_ref_sink(parsed));
    }
    return false;
  }
  GstPtr<GstElement> output = sink(parsed);
  GstPtr<GstElement> out_sink(gst_bin_get_by_name(GST_BIN(output.get()), "out"));
  g_object_set(out_sink.get(), "location", path.c_str(), nullptr);
  GstPtr<GstElement> video_src(gst_bin_get_by_name(GST_BIN(output.get()), "v"));
  GstPtr<GstElement> audio_src(gst_bin_get_by_name(GST_BIN(output.get()), "a"));
  Transcode transcode;
  transcode.options = &options;
  transcode.duration_ns = std::max<uint64_t>(total, 1);
  transcode.video_src = video_src.get();
  transcode.audio_src = audio_src.get();
  EncoderInput encoder_input{static_cast<GstClockTime>(options.target_duration * GST_SECOND),
                             static_cast<GstClockTime>(options.target_duration * GST_SECOND)};
  if (video) {
    // The first segment's picture size for the whole VOD (a browser's
    // stream changes size with its bandwidth): the muxer's header holds one.
    MiniPtr<GstCaps> fixed(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420",
                                               "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
                                               nullptr));
    if (width > 0 && height > 0) {
      gst_caps_set_simple(fixed.get(), "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
                          nullptr);
    }
    GstPtr<GstElement> size(gst_bin_get_by_name(GST_BIN(output.get()), "size"));
    g_object_set(size.get(), "caps", fixed.get(), nullptr);
    GstPtr<GstElement> encoder(gst_bin_get_by_name(GST_BIN(output.get()), "enc"));
    GstPtr<GstPad> encoder_sink(gst_element_get_static_pad(encoder.get(), "sink"));
    gst_pad_add_probe(encoder_sink.get(),
                      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                                   GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                      on_encoder_input, &encoder_input, nullptr);
  }
  GstPtr<GstBus> bus(gst_element_get_bus(output.get()));
  gst_bus_set_sync_handler(bus.get(), on_output_message, &transcode, nullptr);
  // Stops the output and its bus's handler before `transcode` goes.
  auto stop = [&] {
    gst_element_set_state(output.get(), GST_STATE_NULL);
    gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
  };
  if (gst_element_set_state(output.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    stop();
    std::lock_guard<std::mutex> guard(transcode.lock);
    *error = transcode.output_error.empty() ? "cannot start the transcoding pipeline"
                                            : transcode.output_error;
    return false;
  }

  FeedOptions feed;
  feed.frame = [&](bool is_video, GstBuffer *buffer, GstCaps *frame_caps) {
    return feed_frame(transcode, is_video, buffer, frame_caps);
  };
  // Polled by the reader on this thread every 100 ms at least: the
  // transcode's progress is reported from here too.
  feed.cancelled = [&] { return transcode.poll(); };
  FeedResult fed;
  bool ok = feed_recording(recording, feed, &fed, error, "stopped");
  for (GstElement *src : {transcode.video_src, transcode.audio_src}) {
    if (src) {
      gst_app_src_end_of_stream(GST_APP_SRC(src));
    }
  }
  while (ok) {
    MiniPtr<GstMessage> message(gst_bus_timed_pop_filtered(
        bus.get(), kPollInterval,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
    if (transcode.poll()) {
      ok = false;
    } else if (message && GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
      ok = false;
    } else if (message) {
      break;
    }
  }
  stop();
  if (transcode.cancelled) {
    *error = "cancelled";
    return false;
  }
  {
    std::lock_guard<std::mutex> guard(transcode.lock);
    if (!transcode.output_error.empty()) {
      *error = "transcoding to H.264 failed: " + transcode.output_error;
      return false;
    }
  }
  if (!ok) {
    return false;
  }
  *duration_ns = fed.duration_ns;
  return true;
}

// Whether the recording can be cut as it is: MP4 whose video, if any, is
// H.264. An MP4 segment the demuxer cannot preroll (a crash's torn tail) is
// left to the cut, which reads its whole fragments.
bool cut_as_recorded(const Recording &recording) {
  if (recording.manifest.format != "mp4") {
    return false;
  }
  SegmentCaps caps;
  std::string ignored;
  if (!probe_segment(recording.segment_path(recording.manifest.segments.front()), "mp4", &caps,
                     &ignored)) {
    return true;
  }
  return !caps.video || has_name(caps.video.get(), "video/x-h264");
}

}  // namespace

bool make_hls(const Recording &recording, const HlsOptions &options, HlsResult *result,
              std::string *error) {
  namespace fs = std::filesystem;
  if (recording.manifest.segments.empty()) {
    *error = "the recording has no media";
    return false;
  }
  if (!(options.target_duration >= 1.0 && options.target_duration <= 60.0)) {
    *error = "target duration must be between 1 and 60 seconds";
    return false;
  }
  if (cut_as_recorded(recording)) {
    return segment_fmp4(recording, options, result, error);
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    *error = "cannot create '" + options.directory + "': " + ec.message();
    return false;
  }
  // The transcoded recording, one fMP4 segment, lives in the output
  // directory until it is cut.
  Recording transcoded;
  transcoded.directory = options.directory;
  transcoded.manifest.format = "mp4";
  transcoded.manifest.stream = recording.manifest.stream;
  transcoded.manifest.state = "finished";
  record::SegmentEntry entry;
  entry.path = ".transcoded.mp4";
  entry.complete = true;
  std::string path = transcoded.segment_path(entry);
  struct Remove {
    std::string path;
    ~Remove() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove{path};
  if (!transcode_to_fmp4(recording, options, path, &entry.duration_ns, error)) {
    return false;
  }
  entry.size = fs::file_size(path, ec);
  transcoded.manifest.segments.push_back(entry);
  HlsOptions cut = options;
  if (options.progress) {
    cut.progress = [&options](double fraction) {
      options.progress(kTranscodeShare + (1 - kTranscodeShare) * fraction);
    };
  }
  return segment_fmp4(transcoded, cut, result, error);
}

}  // namespace livepipe::replay
