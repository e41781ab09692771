// Capture-to-decoded-picture latency of one live source delivered by
// `livepipe serve` over WHEP and over RTMP, in one run, read from a timestamp
// drawn into every frame (frame_stamp.h). The source is this process: a live
// test pattern whose frames get the wall-clock millisecond of their capture
// drawn in, encoded twice with the same x264 settings, once published over
// WHIP (stream `cam`) and once pushed over RTMP to the nginx-rtmp `livepipe
// serve` supervises (stream `ingest`). Receivers, each decoding with
// libavcodec's H.264 decoder and reading the stamp from the decoded picture
// against the same clock:
//   - a WHEP viewer of `cam` (webrtcbin, rtph264depay, avdec_h264);
//   - ffmpeg pulling `cam` from the nginx-rtmp the server restreams it to
//     (raw grey frames on a pipe), with its default decoder settings and
//     with -flags low_delay (no frame-threading delay), and a GStreamer
//     player of the same URL (rtmp2src, flvdemux, avdec_h264);
//   - a WHEP viewer of `ingest`;
//   - ffmpeg (low_delay) and the GStreamer player pulling `ingest` straight
//     from the server's nginx-rtmp: the RTMP-only reference, no livepipe in
//     the media path.
// bench/rtmp/latency.sh starts the servers and runs this in a loopback-only
// network namespace.
#include "answerer.h"
#include "frame_stamp.h"
#include "util/gstptr.h"
#include "util/maincontext.h"
#include "whip_client.h"

#include <glib-unix.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using livepipe::GstPtr;
using livepipe::SourceGuard;
using livepipe::signaling::media::WhipClient;
namespace stamp = livepipe::bench;

namespace {

struct Options {
  std::string server = "http://127.0.0.1:18391";
  std::string ingest_rtmp;    // rtmp://HOST:PORT/live of the server's nginx; empty: no ingest rows
  std::string restream_rtmp;  // rtmp://HOST:PORT/live the server restreams `cam` to
  double seconds = 30;
  double warmup = 5;
  double startup_timeout = 60;
  int width = 640, height = 360;
  int bitrate_kbps = 1500;
  bool whip_audio = true;  // false: the WHIP publish (and so its restream) carries no audio
};

std::atomic<bool> g_measuring{false};

int64_t now_ms() {
  return g_get_real_time() / 1000;
}

// What one receiver saw while the window was open.
struct Path {
  std::string name;
  std::mutex mutex;
  std::vector<int64_t> ages_ms;
  uint64_t unreadable = 0;
  uint64_t repeated = 0;  // the same stamp as the frame before: not counted as a frame
  std::optional<uint64_t> last;
  std::atomic<bool> seen{false};

  explicit Path(std::string n) : name(std::move(n)) {}
  // A decoded frame: its stamp, if one could be read, at `now`.
  void frame(std::optional<uint64_t> value, int64_t now) {
    if (value) {
      seen = true;
    }
    if (!g_measuring) {
      last = value;
      return;
    }
    std::lock_guard lock(mutex);
    if (!value) {
      ++unreadable;
    } else if (last && *last == *value) {
      ++repeated;
    } else {
      ages_ms.push_back(stamp::stamp_age_ms(*value, now));
    }
    last = value;
  }
};

// Runs `use` on the luma plane of a video buffer that flows through `pad`.
template <typename Use>
bool with_luma(GstPad *pad, GstBuffer *buffer, GstMapFlags flags, Use use) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) {
    return false;
  }
  GstVideoInfo info;
  bool ok = gst_video_info_from_caps(&info, caps);
  gst_caps_unref(caps);
  GstVideoFrame frame;
  if (!ok || !gst_video_frame_map(&frame, &info, buffer, flags)) {
    return false;
  }
  use(static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)),
      GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0), GST_VIDEO_FRAME_WIDTH(&frame),
      GST_VIDEO_FRAME_HEIGHT(&frame));
  gst_video_frame_unmap(&frame);
  return true;
}

std::optional<uint64_t> read_frame(GstPad *pad, GstBuffer *buffer) {
  std::optional<uint64_t> value;
  with_luma(pad, buffer, GST_MAP_READ, [&](uint8_t *luma, int stride, int width, int height) {
    value = stamp::read_stamp(luma, stride, width, height);
  });
  return value;
}

// The WHIP publisher's encoder settings (apps/cmd_whip.cpp), for both encodes.
std::string x264_description(const Options &o) {
  return "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=60 bitrate=" +
         std::to_string(o.bitrate_kbps) + " ! video/x-h264,profile=constrained-baseline";
}

// The source: one stamped picture and a tone, published over WHIP (the tone
// only with whip_audio).
std::string source_description(const Options &o) {
  std::string size = "width=" + std::to_string(o.width) + ",height=" + std::to_string(o.height);
  return "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,framerate=30/1," + size +
         " ! identity name=stamp ! tee name=vt "
         "audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! "
         "audio/x-raw,rate=48000,channels=2 ! tee name=at "
         "webrtcbin name=webrtc bundle-policy=max-bundle "
         "vt. ! queue ! " +
         x264_description(o) +
         " ! rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency ! "
         "application/x-rtp,media=video,encoding-name=H264,payload=96,"
         "packetization-mode=(string)1 ! webrtc. " +
         (o.whip_audio ? "at. ! queue ! audioconvert ! opusenc ! rtpopuspay pt=111 ! "
                         "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc. "
                       : "");
}

// The same source pushed over RTMP (H.264 + AAC in FLV), as OBS or ffmpeg
// would, from the same tees. It is there from the start: added to the running
// pipeline instead, the WHIP branch's pictures reached the viewer a frame
// later (33 ms) for the whole run. The server gives up on a publisher that
// sends no video for 10 s, so a start slowed that much by a loaded machine
// ends with no ingest rows (the benchmark says so and fails).
bool add_ingest_push(GstElement *pipeline, const Options &o) {
  std::string d =
      "queue name=vq ! " + x264_description(o) +
      " ! h264parse ! flvmux name=mux streamable=true ! rtmp2sink sync=false location=" +
      o.ingest_rtmp +
      "/ingest queue name=aq ! audioconvert ! avenc_aac bitrate=128000 ! aacparse ! "
      "mux.";
  GError *error = nullptr;
  GstElement *bin = gst_parse_bin_from_description(d.c_str(), FALSE, &error);
  if (!bin) {
    std::fprintf(stderr, "RTMP push: %s\n", error ? error->message : "no bin");
    g_clear_error(&error);
    return false;
  }
  g_clear_error(&error);
  gst_bin_add(GST_BIN(pipeline), bin);
  bool ok = true;
  for (auto [queue, tee] : {std::pair{"vq", "vt"}, std::pair{"aq", "at"}}) {
    GstPtr<GstElement> q(gst_bin_get_by_name(GST_BIN(bin), queue));
    GstPtr<GstPad> target(gst_element_get_static_pad(q.get(), "sink"));
    GstPad *ghost = gst_ghost_pad_new(queue, target.get());
    gst_element_add_pad(bin, ghost);
  }
  gst_element_sync_state_with_parent(bin);
  for (auto [queue, tee] : {std::pair{"vq", "vt"}, std::pair{"aq", "at"}}) {
    GstPtr<GstElement> t(gst_bin_get_by_name(GST_BIN(pipeline), tee));
    GstPad *src = gst_element_request_pad_simple(t.get(), "src_%u");
    GstPtr<GstPad> sink(gst_element_get_static_pad(bin, queue));
    ok = ok && gst_pad_link(src, sink.get()) == GST_PAD_LINK_OK;
    // The tee keeps its request pad until the pipeline goes.
    gst_object_unref(src);
  }
  return ok;
}

// Draws the capture time into each frame as it leaves the source.
GstPadProbeReturn stamp_probe(GstPad *pad, GstPadProbeInfo *info, gpointer) {
  GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
  GST_PAD_PROBE_INFO_DATA(info) = buffer;
  with_luma(pad, buffer, GST_MAP_WRITE, [](uint8_t *luma, int stride, int width, int height) {
    stamp::draw_stamp(luma, stride, width, height, static_cast<uint64_t>(now_ms()));
  });
  return GST_PAD_PROBE_OK;
}

// A WHEP viewer decoding the video with avdec_h264 and reading each stamp.
// A stream the server does not have yet is asked for again (bounded).
class WhepViewer {
 public:
  // `audio`: the stream has audio, so the offer asks for it too.
  WhepViewer(std::string url, Path &path, bool audio)
      : url_(std::move(url)), path_(path), audio_(audio) {}
  ~WhepViewer() { teardown(); }

  void start() {
    teardown();
    pipeline_ = GstPtr<GstElement>(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new(nullptr))));
    GstElement *webrtc = gst_element_factory_make("webrtcbin", nullptr);
    g_object_set(webrtc, "bundle-policy", 3 /* max-bundle */, nullptr);
    gst_bin_add(GST_BIN(pipeline_.get()), webrtc);
    for (const char *caps_text :
         {"application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
          "packetization-mode=(string)1,profile-level-id=(string)42e01f",
          "application/x-rtp,media=audio,encoding-name=OPUS,payload=109,clock-rate=48000,"
          "encoding-params=(string)2"}) {
      if (!audio_ && std::strstr(caps_text, "media=audio")) {
        continue;
      }
      GstCaps *caps = gst_caps_from_string(caps_text);
      GstWebRTCRTPTransceiver *t = nullptr;
      g_signal_emit_by_name(webrtc, "add-transceiver",
                            GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
      gst_caps_unref(caps);
      if (t) {
        gst_object_unref(t);
      }
    }
    g_signal_connect(webrtc, "pad-added", G_CALLBACK(on_pad_added), &path_);
    livepipe::signaling::media::add_ice_addresses(webrtc, {"127.0.0.1"});
    client_ = std::make_unique<WhipClient>(webrtc, url_, "");
    gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
    client_->start([this](const WhipClient::Result &r) {
      if (r.error.empty()) {
        return;
      }
      if (++attempts_ >= 60) {
        std::fprintf(stderr, "%s: %s\n", url_.c_str(), r.error.c_str());
        return;
      }
      // Not published yet: ask again shortly (from a fresh stack).
      retry_ = livepipe::add_timeout(nullptr, 500, [this] {
        start();
        return false;
      });
    });
  }

  void stop(std::function<void()> done) {
    if (!client_ || !client_->result().error.empty() || client_->result().location.empty()) {
      done();
      return;
    }
    client_->stop([done](guint) { done(); });
  }

 private:
  static void on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data) {
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
      return;
    }
    GstCaps *caps = gst_pad_get_current_caps(pad);
    const GstStructure *s = caps ? gst_caps_get_structure(caps, 0) : nullptr;
    const char *media = s ? gst_structure_get_string(s, "media") : nullptr;
    const char *encoding = s ? gst_structure_get_string(s, "encoding-name") : nullptr;
    bool h264 = media && !std::strcmp(media, "video") && encoding && !std::strcmp(encoding, "H264");
    if (media && !std::strcmp(media, "video") && !h264) {
      std::fprintf(stderr, "WHEP video is %s, not H264: not read\n", encoding ? encoding : "?");
    }
    if (caps) {
      gst_caps_unref(caps);
    }
    auto *bin = GST_BIN(GST_ELEMENT_PARENT(webrtc));
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    // No playout clock: each frame is read the moment it is decoded, as
    // ffmpeg writes it the moment it is decoded.
    g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add(bin, sink);
    GstElement *first = sink;
    if (h264) {
      GstElement *depay = gst_element_factory_make("rtph264depay", nullptr);
      GstElement *decode = gst_element_factory_make("avdec_h264", nullptr);
      // Slice threads only, like ffmpeg with -flags low_delay: frame threads
      // would hold each picture back by a frame per thread.
      gst_util_set_object_arg(G_OBJECT(decode), "thread-type", "slice");
      gst_bin_add_many(bin, depay, decode, nullptr);
      gst_element_link_many(depay, decode, sink, nullptr);
      GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
      gst_pad_add_probe(
          sink_pad, GST_PAD_PROBE_TYPE_BUFFER,
          [](GstPad *p, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
            auto value = read_frame(p, GST_PAD_PROBE_INFO_BUFFER(info));
            static_cast<Path *>(d)->frame(value, now_ms());
            return GST_PAD_PROBE_OK;
          },
          data, nullptr);
      gst_object_unref(sink_pad);
      gst_element_sync_state_with_parent(decode);
      gst_element_sync_state_with_parent(depay);
      first = depay;
    }
    gst_element_sync_state_with_parent(sink);
    GstPad *target = gst_element_get_static_pad(first, "sink");
    gst_pad_link(pad, target);
    gst_object_unref(target);
  }

  void teardown() {
    retry_.reset();
    if (pipeline_) {
      gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    }
    client_.reset();
    pipeline_.reset();
  }

  std::string url_;
  Path &path_;
  bool audio_;
  GstPtr<GstElement> pipeline_;
  std::unique_ptr<WhipClient> client_;
  SourceGuard retry_;
  int attempts_ = 0;
};

// GStreamer playing an RTMP URL (rtmp2src, flvdemux, avdec_h264 with slice
// threads): the same protocol and server as the ffmpeg rows with the WHEP
// viewer's decoder, to tell the player's share from the protocol's. A stream
// that is not there yet is asked for again (bounded).
class GstRtmpPull {
 public:
  GstRtmpPull(std::string url, Path &path) : url_(std::move(url)), path_(path) {}
  ~GstRtmpPull() { teardown(); }

  void start() {
    teardown();
    std::string d = "rtmp2src location=" + url_ +
                    " ! flvdemux name=d d.video ! queue ! h264parse ! "
                    "avdec_h264 thread-type=slice ! fakesink name=sink sync=false async=false "
                    // Audio too: flvdemux stops when none of its pads is linked.
                    "d.audio ! queue ! fakesink sync=false async=false";
    GError *error = nullptr;
    GstElement *pipeline = gst_parse_launch(d.c_str(), &error);
    g_clear_error(&error);
    if (!pipeline) {
      return;
    }
    pipeline_ = GstPtr<GstElement>(GST_ELEMENT(gst_object_ref_sink(pipeline)));
    GstPtr<GstElement> sink(gst_bin_get_by_name(GST_BIN(pipeline), "sink"));
    GstPtr<GstPad> pad(gst_element_get_static_pad(sink.get(), "sink"));
    gst_pad_add_probe(
        pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *p, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          auto value = read_frame(p, GST_PAD_PROBE_INFO_BUFFER(info));
          static_cast<Path *>(d)->frame(value, now_ms());
          return GST_PAD_PROBE_OK;
        },
        &path_, nullptr);
    GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(pipeline)));
    watch_ = gst_bus_add_watch(
        bus.get(),
        [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
          auto *self = static_cast<GstRtmpPull *>(data);
          if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
            GError *e = nullptr;
            gst_message_parse_error(message, &e, nullptr);
            self->last_error_ = e ? e->message : "error";
            g_clear_error(&e);
          } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
            self->last_error_ = "end of stream";
          } else {
            return G_SOURCE_CONTINUE;
          }
          if (++self->attempts_ < 20) {
            self->retry_ = livepipe::add_timeout(nullptr, 500, [self] {
              self->start();
              return false;
            });
          } else {
            std::fprintf(stderr, "%s: gave up: %s\n", self->url_.c_str(),
                         self->last_error_.c_str());
          }
          self->watch_ = 0;
          return G_SOURCE_REMOVE;
        },
        this);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
  }

  void teardown() {
    retry_.reset();
    if (watch_) {
      g_source_remove(watch_);
      watch_ = 0;
    }
    if (pipeline_) {
      gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    }
    pipeline_.reset();
  }

 private:
  std::string url_;
  Path &path_;
  GstPtr<GstElement> pipeline_;
  guint watch_ = 0;
  SourceGuard retry_;
  int attempts_ = 0;
  std::string last_error_;
};

// ffmpeg playing an RTMP URL and writing each decoded picture as raw 8-bit
// grey to a pipe this process reads; restarted (bounded) if it ends early.
class FfmpegPull {
 public:
  FfmpegPull(std::vector<std::string> args, const Options &o, Path &path)
      : args_(std::move(args)), width_(o.width), height_(o.height), path_(path) {}
  ~FfmpegPull() { stop(); }

  bool start() {
    std::vector<char *> argv;
    for (auto &a : args_) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    int out = -1;
    GError *error = nullptr;
    if (!g_spawn_async_with_pipes(
            nullptr, argv.data(), nullptr,
            static_cast<GSpawnFlags>(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), nullptr,
            nullptr, &pid_, nullptr, &out, nullptr, &error)) {
      std::fprintf(stderr, "ffmpeg: %s\n", error->message);
      g_clear_error(&error);
      return false;
    }
    ended_ = false;
    reader_ = std::thread([this, out] {
      std::vector<uint8_t> picture(static_cast<size_t>(width_) * height_);
      size_t filled = 0;
      for (;;) {
        ssize_t n = read(out, picture.data() + filled, picture.size() - filled);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          break;
        }
        filled += static_cast<size_t>(n);
        if (filled == picture.size()) {
          int64_t now = now_ms();
          path_.frame(stamp::read_stamp(picture.data(), width_, width_, height_), now);
          filled = 0;
        }
      }
      close(out);
      ended_ = true;
    });
    return true;
  }

  // Restarts an ffmpeg that ended before it was stopped; false when it keeps
  // ending.
  bool keep_alive() {
    if (!ended_ || stopped_) {
      return true;
    }
    reap();
    if (++restarts_ > 10) {
      return false;
    }
    return start();
  }

  void stop() {
    stopped_ = true;
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
    }
    reap();
  }

 private:
  void reap() {
    if (reader_.joinable()) {
      reader_.join();
    }
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);
      g_spawn_close_pid(pid_);
      pid_ = 0;
    }
  }

  std::vector<std::string> args_;
  int width_, height_;
  Path &path_;
  GPid pid_ = 0;
  std::thread reader_;
  std::atomic<bool> ended_{false};
  bool stopped_ = false;
  int restarts_ = 0;
};

std::vector<std::string> ffmpeg_args(const std::string &url, bool low_delay) {
  std::vector<std::string> a = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"};
  if (low_delay) {
    a.insert(a.end(), {"-fflags", "nobuffer", "-flags", "low_delay"});
  }
  a.insert(a.end(), {"-i", url, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo",
                     "-pix_fmt", "gray", "pipe:1"});
  return a;
}

double percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) {
    return NAN;
  }
  std::sort(v.begin(), v.end());
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return static_cast<double>(v[std::clamp<size_t>(rank, 1, v.size()) - 1]);
}

void usage(FILE *out) {
  std::fprintf(out,
               "Usage: bench_rtmp_latency --server URL --restream-rtmp rtmp://HOST:PORT/APP\n"
               "                          [--ingest-rtmp rtmp://HOST:PORT/APP] [--seconds S]\n"
               "                          [--warmup S] [--size WxH] [--bitrate KBPS]\n"
               "                          [--whip-audio yes|no]\n"
               "Publishes the stamped source to URL/whip/cam (and pushes it to\n"
               "--ingest-rtmp/ingest), reads it back over WHEP and from the RTMP URLs, and\n"
               "prints frames read and latency percentiles for each path.\n");
}

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", arg.c_str());
      return false;
    }
    const char *v = argv[++i];
    if (arg == "--server") {
      o.server = v;
    } else if (arg == "--ingest-rtmp") {
      o.ingest_rtmp = v;
    } else if (arg == "--restream-rtmp") {
      o.restream_rtmp = v;
    } else if (arg == "--seconds") {
      o.seconds = std::atof(v);
    } else if (arg == "--warmup") {
      o.warmup = std::atof(v);
    } else if (arg == "--whip-audio") {
      o.whip_audio = std::strcmp(v, "no") != 0;
    } else if (arg == "--bitrate") {
      o.bitrate_kbps = std::atoi(v);
    } else if (arg == "--size") {
      if (std::sscanf(v, "%dx%d", &o.width, &o.height) != 2) {
        std::fprintf(stderr, "--size takes WxH\n");
        return false;
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return false;
    }
  }
  if (o.restream_rtmp.empty() || o.seconds <= 0 || o.warmup < 0 || o.bitrate_kbps <= 0 ||
      o.width < stamp::kStampWidth || o.height < stamp::kStampHeight || o.width % 2 ||
      o.height % 2) {
    usage(stderr);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  Options o;
  if (!parse(argc, argv, o)) {
    return 2;
  }
  bool ingest = !o.ingest_rtmp.empty();
  GError *error = nullptr;
  GstElement *parsed = gst_parse_launch(source_description(o).c_str(), &error);
  if (!parsed) {
    std::fprintf(stderr, "source: %s\n", error ? error->message : "no pipeline");
    g_clear_error(&error);
    return 1;
  }
  g_clear_error(&error);
  GstPtr<GstElement> source(GST_ELEMENT(gst_object_ref_sink(parsed)));
  // Each encoded frame leaves as soon as it is ready, as a browser or OBS
  // sends it: with the pipeline's latency (x264enc reports a frame) the
  // sinks would hold every frame until its running time plus that latency.
  gst_pipeline_set_latency(GST_PIPELINE(source.get()), 0);
  {
    GstPtr<GstElement> identity(gst_bin_get_by_name(GST_BIN(source.get()), "stamp"));
    GstPtr<GstPad> pad(gst_element_get_static_pad(identity.get(), "src"));
    gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, nullptr, nullptr);
  }
  GstPtr<GstElement> webrtc(gst_bin_get_by_name(GST_BIN(source.get()), "webrtc"));
  {
    GArray *transceivers = nullptr;
    g_signal_emit_by_name(webrtc.get(), "get-transceivers", &transceivers);
    for (guint i = 0; transceivers && i < transceivers->len; ++i) {
      g_object_set(g_array_index(transceivers, GstWebRTCRTPTransceiver *, i), "direction",
                   GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
    }
    if (transceivers) {
      g_array_unref(transceivers);
    }
  }
  livepipe::signaling::media::add_ice_addresses(webrtc.get(), {"127.0.0.1"});

  std::vector<std::unique_ptr<Path>> paths;
  auto add_path = [&](const char *name) -> Path & {
    return *paths.emplace_back(std::make_unique<Path>(name));
  };
  Path &whep = add_path("WHIP > livepipe > WHEP viewer");
  Path &restream = add_path("WHIP > livepipe > RTMP restream > nginx > ffmpeg");
  Path &restream_low = add_path("  same, ffmpeg -flags low_delay");
  Path &restream_gst = add_path("  same, GStreamer player");
  Path *ingest_whep = ingest ? &add_path("RTMP push > nginx > livepipe > WHEP viewer") : nullptr;
  Path *ingest_rtmp =
      ingest ? &add_path("RTMP push > nginx > ffmpeg -flags low_delay (no livepipe)") : nullptr;
  Path *ingest_gst = ingest ? &add_path("  same, GStreamer player (no livepipe)") : nullptr;

  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  int exit_code = 0;
  auto fail = [&](const std::string &why) {
    std::fprintf(stderr, "error: %s\n", why.c_str());
    exit_code = 1;
    g_main_loop_quit(loop);
  };
  GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(source.get())));
  gst_bus_add_signal_watch(bus.get());
  std::function<void(GstMessage *)> on_bus = [&](GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
      GError *e = nullptr;
      gst_message_parse_error(message, &e, nullptr);
      fail(std::string("source: ") + (e ? e->message : "error"));
      g_clear_error(&e);
    }
  };
  g_signal_connect(bus.get(), "message", G_CALLBACK(+[](GstBus *, GstMessage *m, gpointer d) {
                     (*static_cast<std::function<void(GstMessage *)> *>(d))(m);
                   }),
                   &on_bus);

  WhipClient publisher(webrtc.get(), o.server + "/whip/cam", "");
  WhepViewer whep_viewer(o.server + "/whep/cam", whep, o.whip_audio);
  GstRtmpPull gst_pull(o.restream_rtmp + "/cam", restream_gst);
  std::unique_ptr<WhepViewer> ingest_viewer;
  std::unique_ptr<GstRtmpPull> ingest_gst_pull;
  std::vector<std::unique_ptr<FfmpegPull>> pulls;
  pulls.push_back(
      std::make_unique<FfmpegPull>(ffmpeg_args(o.restream_rtmp + "/cam", false), o, restream));
  pulls.push_back(
      std::make_unique<FfmpegPull>(ffmpeg_args(o.restream_rtmp + "/cam", true), o, restream_low));
  if (ingest) {
    ingest_viewer = std::make_unique<WhepViewer>(o.server + "/whep/ingest", *ingest_whep, true);
    ingest_gst_pull = std::make_unique<GstRtmpPull>(o.ingest_rtmp + "/ingest", *ingest_gst);
    pulls.push_back(std::make_unique<FfmpegPull>(ffmpeg_args(o.ingest_rtmp + "/ingest", true), o,
                                                 *ingest_rtmp));
  }

  if (ingest && !add_ingest_push(source.get(), o)) {
    std::fprintf(stderr, "error: the RTMP push cannot be built\n");
    return 1;
  }
  if (gst_element_set_state(source.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::fprintf(stderr, "error: the source does not start\n");
    return 1;
  }
  const int64_t started = g_get_monotonic_time();
  auto elapsed = [&] { return (g_get_monotonic_time() - started) / 1e6; };
  bool receivers_started = false;
  publisher.start([&](const WhipClient::Result &r) {
    if (!r.error.empty()) {
      fail("WHIP publish: " + r.error);
    }
  });

  enum class Phase { kStarting, kWarmup, kMeasuring, kDone } phase = Phase::kStarting;
  double phase_since = 0;
  std::atomic<int64_t> source_frames{0};
  SourceGuard ticker = livepipe::add_timeout(nullptr, 100, [&] {
    double t = elapsed();
    // The restream and the ingest stream exist a moment after the publish.
    if (!receivers_started && !publisher.result().location.empty()) {
      receivers_started = true;
      whep_viewer.start();
      gst_pull.start();
      if (ingest_viewer) {
        ingest_viewer->start();
        ingest_gst_pull->start();
      }
      for (auto &p : pulls) {
        if (!p->start()) {
          fail("ffmpeg does not start");
          return false;
        }
      }
    }
    for (auto &p : pulls) {
      if (!p->keep_alive()) {
        fail("ffmpeg keeps ending: is the RTMP stream there?");
        return false;
      }
    }
    switch (phase) {
      case Phase::kStarting: {
        bool all = std::all_of(paths.begin(), paths.end(), [](auto &p) { return p->seen.load(); });
        if (all || t > o.startup_timeout) {
          if (!all) {
            for (auto &p : paths) {
              if (!p->seen) {
                std::fprintf(stderr, "no stamp read after %.0f s: %s\n", t, p->name.c_str());
              }
            }
          }
          std::printf("first stamps read after %.1f s; warming up %.0f s\n", t, o.warmup);
          phase = Phase::kWarmup;
          phase_since = t;
        }
        break;
      }
      case Phase::kWarmup:
        if (t - phase_since >= o.warmup) {
          source_frames = 0;
          g_measuring = true;
          phase = Phase::kMeasuring;
          phase_since = t;
          std::printf("measuring %.0f s\n", o.seconds);
          std::fflush(stdout);
        }
        break;
      case Phase::kMeasuring:
        if (t - phase_since >= o.seconds) {
          g_measuring = false;
          phase = Phase::kDone;
          g_main_loop_quit(loop);
        }
        break;
      case Phase::kDone:
        break;
    }
    std::fflush(stdout);
    return phase != Phase::kDone;
  });
  // Frames the source drew while the window was open.
  {
    GstPtr<GstElement> identity(gst_bin_get_by_name(GST_BIN(source.get()), "stamp"));
    GstPtr<GstPad> pad(gst_element_get_static_pad(identity.get(), "sink"));
    gst_pad_add_probe(
        pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *, gpointer d) -> GstPadProbeReturn {
          if (g_measuring) {
            ++*static_cast<std::atomic<int64_t> *>(d);
          }
          return GST_PAD_PROBE_OK;
        },
        &source_frames, nullptr);
  }
  std::function<void()> interrupt = [&] { fail("interrupted"); };
  guint sigint = g_unix_signal_add(
      SIGINT,
      [](gpointer d) -> gboolean {
        (*static_cast<std::function<void()> *>(d))();
        return G_SOURCE_CONTINUE;
      },
      &interrupt);
  g_main_loop_run(loop);
  g_source_remove(sigint);
  ticker.reset();
  g_measuring = false;

  for (auto &p : pulls) {
    p->stop();
  }
  gst_pull.teardown();
  if (ingest_gst_pull) {
    ingest_gst_pull->teardown();
  }
  // DELETE the sessions (bounded: the loop ends after 3 s whatever happens).
  int pending = 2 + (ingest_viewer ? 1 : 0);
  auto one_done = [&] {
    if (--pending == 0) {
      g_main_loop_quit(loop);
    }
  };
  whep_viewer.stop(one_done);
  if (ingest_viewer) {
    ingest_viewer->stop(one_done);
  }
  if (!publisher.result().location.empty()) {
    publisher.stop([&](guint) { one_done(); });
  } else {
    one_done();
  }
  if (pending > 0) {
    SourceGuard deadline = livepipe::add_timeout(nullptr, 3000, [&] {
      g_main_loop_quit(loop);
      return false;
    });
    g_main_loop_run(loop);
  }
  gst_element_set_state(source.get(), GST_STATE_NULL);
  gst_bus_remove_signal_watch(bus.get());
  g_signal_handlers_disconnect_by_data(bus.get(), &on_bus);
  g_main_loop_unref(loop);

  if (exit_code == 0) {
    std::printf("\n%dx%d at 30 fps, x264 %d kb/s; %.0f s window, %lld frames drawn by the source\n",
                o.width, o.height, o.bitrate_kbps, o.seconds,
                static_cast<long long>(source_frames.load()));
    std::printf("%-60s %7s %10s %8s %8s %8s\n", "path (capture -> decoded picture)", "frames",
                "unreadable", "p50 ms", "p95 ms", "max ms");
    for (auto &p : paths) {
      std::lock_guard lock(p->mutex);
      double max =
          p->ages_ms.empty()
              ? NAN
              : static_cast<double>(*std::max_element(p->ages_ms.begin(), p->ages_ms.end()));
      std::printf("%-60s %7zu %10llu %8.0f %8.0f %8.0f\n", p->name.c_str(), p->ages_ms.size(),
                  static_cast<unsigned long long>(p->unreadable), percentile(p->ages_ms, 50),
                  percentile(p->ages_ms, 95), max);
      if (p->repeated) {
        std::printf("  (%llu frames repeated the previous stamp and are not counted)\n",
                    static_cast<unsigned long long>(p->repeated));
      }
      if (p->ages_ms.empty()) {
        exit_code = 1;
      }
    }
    double whep50 = percentile(whep.ages_ms, 50);
    for (Path *p : {&restream, &restream_low, &restream_gst}) {
      std::printf("ratio p50 %s / WHEP viewer: %.1f\n",
                  p == &restream       ? "RTMP restream, ffmpeg"
                  : p == &restream_low ? "RTMP restream, ffmpeg low_delay"
                                       : "RTMP restream, GStreamer player",
                  percentile(p->ages_ms, 50) / whep50);
    }
    if (ingest) {
      std::printf("ratio p50 RTMP ingest > WHEP viewer / RTMP only, GStreamer player: %.2f\n",
                  percentile(ingest_whep->ages_ms, 50) / percentile(ingest_gst->ages_ms, 50));
    }
  }
  return exit_code;
}
