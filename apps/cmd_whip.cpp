// `livepipe whip-publish URL` and `livepipe whep-play URL`: WHIP and WHEP
// clients on webrtcbin (the protocol logic is in signaling/media/whip_client).
#include "commands.h"

#include "cli.h"
#include "util/gstptr.h"
#include "util/maincontext.h"
#include "answerer.h"
#include "whip_client.h"

#include <glib-unix.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace livepipe::apps {
namespace {

struct Options {
  std::string url;
  std::string token;
  std::string file;     // publish: a media file to send instead of the test pattern
  double duration = 0;  // seconds; 0: until interrupted (or the stream ends)
  int width = 640, height = 360;
  double stall_seconds = 3;  // play: no media for this long ends the session
  bool audio = true;
  std::string codec = "h264";    // publish: h264 or vp8
  std::string pattern = "ball";  // publish: the videotestsrc pattern without --file
  std::string frame_stats;       // play: a file for one line per decoded frame
  double ice_restart_after = 0;  // seconds after connecting; 0: never
  std::vector<std::string> ice_addresses;
};

void usage(FILE *out, bool publish) {
  if (publish) {
    std::fprintf(
        out,
        "Usage: livepipe whip-publish URL [--token T] [--file MEDIA] [--size WxH]\n"
        "                             [--codec h264|vp8] [--no-audio] [--duration SECONDS]\n"
        "                             [--ice-address IP] [--ice-restart-after SECONDS]\n"
        "                             [--pattern NAME]\n"
        "\n"
        "Publishes a test pattern (videotestsrc's NAME, default ball) and tone (or\n"
        "MEDIA, any file GStreamer decodes) to\n"
        "a WHIP endpoint as H.264 (constrained baseline; or VP8 with --codec vp8) and\n"
        "Opus. Prints the time to connect and, at the end, what was sent. SIGINT ends\n"
        "the session (DELETE). --ice-restart-after restarts ICE (PATCH with If-Match)\n"
        "that long after connecting.\n"
        "Exit status: 0 done, 1 the session failed, 2 invalid arguments.\n");
  } else {
    std::fprintf(out,
                 "Usage: livepipe whep-play URL [--token T] [--duration SECONDS]\n"
                 "                          [--stall SECONDS] [--ice-address IP]\n"
                 "                          [--ice-restart-after SECONDS] [--frame-stats OUT.txt]\n"
                 "\n"
                 "Plays a WHEP stream: decodes it (to nothing) and prints the time to connect,\n"
                 "the first frame and the decoded resolution, and at the end the frames\n"
                 "decoded. It ends after --duration, on SIGINT, or when no media arrives for\n"
                 "--stall seconds (the stream ended; exit 1).\n"
                 "--ice-restart-after restarts ICE that long after connecting.\n"
                 "--frame-stats writes a line per decoded frame: the wall-clock time in ms,\n"
                 "the mean luma and the mean deviation of the luma within 1/16-size tiles\n"
                 "(near 0 when the picture is pixelated).\n"
                 "Exit status: 0 frames were decoded, 1 the session failed or nothing was\n"
                 "decoded, 2 invalid arguments.\n");
  }
}

bool parse(int argc, char **argv, bool publish, Options &o, int *exit_code) {
  const char *name = publish ? "whip-publish" : "whep-play";
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    auto next = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "livepipe %s: %s needs a value\n", name, arg);
        return nullptr;
      }
      return argv[++i];
    };
    const char *v = nullptr;
    if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
      usage(stdout, publish);
      *exit_code = kExitOk;
      return false;
    } else if (!std::strcmp(arg, "--token")) {
      if (!(v = next()))
        break;
      o.token = v;
    } else if (publish && !std::strcmp(arg, "--file")) {
      if (!(v = next()))
        break;
      o.file = v;
    } else if (!publish && !std::strcmp(arg, "--frame-stats")) {
      if (!(v = next()))
        break;
      o.frame_stats = v;
    } else if (!std::strcmp(arg, "--duration")) {
      if (!(v = next()))
        break;
      o.duration = std::atof(v);
    } else if (!std::strcmp(arg, "--ice-address")) {
      if (!(v = next()))
        break;
      o.ice_addresses.emplace_back(v);
    } else if (!std::strcmp(arg, "--ice-restart-after")) {
      if (!(v = next()))
        break;
      o.ice_restart_after = std::atof(v);
    } else if (!std::strcmp(arg, "--stall")) {
      if (!(v = next()))
        break;
      o.stall_seconds = std::atof(v);
    } else if (publish && !std::strcmp(arg, "--codec")) {
      if (!(v = next()))
        break;
      if (std::strcmp(v, "h264") && std::strcmp(v, "vp8")) {
        std::fprintf(stderr, "livepipe %s: --codec takes h264 or vp8\n", name);
        *exit_code = kExitInvalid;
        return false;
      }
      o.codec = v;
    } else if (publish && !std::strcmp(arg, "--pattern")) {
      if (!(v = next()))
        break;
      if (!*v || std::strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != std::strlen(v)) {
        std::fprintf(stderr, "livepipe %s: --pattern takes a videotestsrc pattern name\n", name);
        *exit_code = kExitInvalid;
        return false;
      }
      o.pattern = v;
    } else if (publish && !std::strcmp(arg, "--no-audio")) {
      o.audio = false;
      continue;
    } else if (publish && !std::strcmp(arg, "--size")) {
      if (!(v = next()) || std::sscanf(v, "%dx%d", &o.width, &o.height) != 2 || o.width < 16 ||
          o.height < 16 || o.width > 7680 || o.height > 4320) {
        std::fprintf(stderr, "livepipe %s: --size takes WxH, e.g. 1280x720\n", name);
        *exit_code = kExitInvalid;
        return false;
      }
    } else if (arg[0] != '-' && o.url.empty()) {
      o.url = arg;
      continue;
    } else {
      std::fprintf(stderr, "livepipe %s: unknown argument %s\n\n", name, arg);
      usage(stderr, publish);
      *exit_code = kExitInvalid;
      return false;
    }
    if (!v)
      break;
  }
  if (o.url.empty() || g_uri_peek_scheme(o.url.c_str()) == nullptr) {
    std::fprintf(stderr, "livepipe %s: needs an http(s) URL\n\n", name);
    usage(stderr, publish);
    *exit_code = kExitInvalid;
    return false;
  }
  if (o.duration < 0 || o.stall_seconds <= 0 || o.ice_restart_after < 0) {
    std::fprintf(stderr, "livepipe %s: --duration and --stall must be positive\n", name);
    *exit_code = kExitInvalid;
    return false;
  }
  return true;
}

gboolean on_sigint(gpointer data) {
  static_cast<std::function<void()> *>(data)->operator()();
  return G_SOURCE_CONTINUE;
}

void set_sendonly(GstElement *webrtc) {
  GArray *transceivers = nullptr;
  g_signal_emit_by_name(webrtc, "get-transceivers", &transceivers);
  for (guint i = 0; transceivers && i < transceivers->len; ++i) {
    auto *t = g_array_index(transceivers, GstWebRTCRTPTransceiver *, i);
    g_object_set(t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
  }
  if (transceivers) {
    g_array_unref(transceivers);
  }
}

struct Session {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *webrtc = nullptr;
  std::unique_ptr<signaling::media::WhipClient> client;
  int64_t started_us = 0;
  int64_t connected_us = 0;
  bool restarted = false;
  std::string ice_state;                    // as last reported
  std::atomic<uint64_t> *frames = nullptr;  // play: decoded so far
  int exit_code = kExitOk;
  bool stopping = false;

  void stop(int code) {
    if (stopping) {
      return;
    }
    stopping = true;
    exit_code = code;
    client->stop([this](guint status) {
      if (status) {
        std::printf("session ended (DELETE: %u)\n", status);
      }
      g_main_loop_quit(loop);
    });
  }
};

int run_session(Session &s, const Options &o, std::function<void()> on_tick) {
  s.loop = g_main_loop_new(nullptr, FALSE);
  if (!signaling::media::add_ice_addresses(s.webrtc, o.ice_addresses)) {
    std::fprintf(stderr, "error: ICE cannot use the addresses given with --ice-address\n");
    return kExitInvalid;
  }
  s.client = std::make_unique<signaling::media::WhipClient>(s.webrtc, o.url, o.token);
  GstPtr<GstBus> bus(gst_pipeline_get_bus(GST_PIPELINE(s.pipeline)));
  guint watch = gst_bus_add_watch(
      bus.get(),
      [](GstBus *, GstMessage *message, gpointer data) -> gboolean {
        auto *s = static_cast<Session *>(data);
        if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
          GError *error = nullptr;
          gst_message_parse_error(message, &error, nullptr);
          std::fprintf(stderr, "error: %s\n", error ? error->message : "pipeline error");
          g_clear_error(&error);
          s->stop(kExitRuntime);
        } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
          s->stop(kExitOk);
        }
        return G_SOURCE_CONTINUE;
      },
      &s);
  gst_element_set_state(s.pipeline, GST_STATE_PLAYING);
  s.started_us = g_get_monotonic_time();
  s.client->start([&s](const signaling::media::WhipClient::Result &r) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "error: %s\n", r.error.c_str());
      s.stopping = true;
      s.exit_code = kExitRuntime;
      g_main_loop_quit(s.loop);
      return;
    }
    std::printf("session %s\n", r.location.c_str());
    std::fflush(stdout);
  });
  std::function<void()> interrupt = [&s] { s.stop(kExitOk); };
  guint sigint = g_unix_signal_add(SIGINT, on_sigint, &interrupt);
  guint sigterm = g_unix_signal_add(SIGTERM, on_sigint, &interrupt);
  SourceGuard ticker = add_timeout(nullptr, 100, [&] {
    if (!s.connected_us &&
        (s.client->ice_state() == "connected" || s.client->ice_state() == "completed")) {
      s.connected_us = g_get_monotonic_time();
      std::printf("connected in %.0f ms\n", (s.connected_us - s.started_us) / 1000.0);
      std::fflush(stdout);
    }
    // After connecting, every change is reported (an ICE restart checks again).
    if (std::string state = s.client->ice_state(); s.connected_us && state != s.ice_state) {
      if (!s.ice_state.empty()) {
        std::printf("ice state: %s\n", state.c_str());
        std::fflush(stdout);
      }
      s.ice_state = state;
    }
    if (o.ice_restart_after > 0 && s.connected_us && !s.restarted &&
        g_get_monotonic_time() - s.connected_us > o.ice_restart_after * G_USEC_PER_SEC) {
      s.restarted = true;
      int64_t asked_us = g_get_monotonic_time();
      uint64_t frames_before = s.frames ? s.frames->load() : 0;
      s.client->restart_ice([&s, asked_us, frames_before](guint, const std::string &error) {
        if (!error.empty()) {
          std::printf("ice restart failed: %s\n", error.c_str());
          s.stop(kExitRuntime);
        } else {
          std::printf("ice restart: done in %.0f ms", (g_get_monotonic_time() - asked_us) / 1000.0);
          if (s.frames) {
            std::printf(" after %llu frames", static_cast<unsigned long long>(frames_before));
          }
          std::printf("\n");
        }
        std::fflush(stdout);
      });
    }
    if (o.duration > 0 && g_get_monotonic_time() - s.started_us > o.duration * G_USEC_PER_SEC) {
      s.stop(s.exit_code);
    }
    on_tick();
    return true;
  });
  g_main_loop_run(s.loop);
  ticker.reset();
  g_source_remove(sigint);
  g_source_remove(sigterm);
  g_source_remove(watch);
  gst_element_set_state(s.pipeline, GST_STATE_NULL);
  s.client.reset();
  gst_object_unref(s.pipeline);
  g_main_loop_unref(s.loop);
  return s.exit_code;
}

}  // namespace

namespace {

// One line for --frame-stats: wall-clock ms, mean luma, mean absolute
// deviation of the luma from its tile's mean (tiles of lpmoderator's blur
// size: the shorter side / 16, even, at least 8).
void write_frame_stats(FILE *out, GstPad *pad, GstBuffer *buffer) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  GstVideoInfo info;
  bool ok = caps && gst_video_info_from_caps(&info, caps);
  if (caps) {
    gst_caps_unref(caps);
  }
  GstVideoFrame frame;
  if (!ok || !gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) {
    return;
  }
  const int width = GST_VIDEO_FRAME_WIDTH(&frame), height = GST_VIDEO_FRAME_HEIGHT(&frame);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  const auto *luma = static_cast<const guint8 *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const int tile = std::max(8, (std::min(width, height) / 16) & ~1);
  double sum = 0, deviation = 0;
  for (int ty = 0; ty < height; ty += tile) {
    for (int tx = 0; tx < width; tx += tile) {
      const int y1 = std::min(ty + tile, height), x1 = std::min(tx + tile, width);
      double tile_sum = 0;
      for (int y = ty; y < y1; ++y) {
        for (int x = tx; x < x1; ++x) {
          tile_sum += luma[y * stride + x];
        }
      }
      const double mean = tile_sum / ((y1 - ty) * (x1 - tx));
      for (int y = ty; y < y1; ++y) {
        for (int x = tx; x < x1; ++x) {
          deviation += std::abs(luma[y * stride + x] - mean);
        }
      }
      sum += tile_sum;
    }
  }
  gst_video_frame_unmap(&frame);
  const double pixels = static_cast<double>(width) * height;
  std::fprintf(out, "%" G_GINT64_FORMAT " %.1f %.2f\n", g_get_real_time() / 1000, sum / pixels,
               deviation / pixels);
  std::fflush(out);
}

}  // namespace

int cmd_whip_publish(int argc, char **argv) {
  Options o;
  int code = kExitOk;
  if (!parse(argc, argv, true, o, &code)) {
    return code;
  }
  // Constrained baseline without B-frames: what every browser decodes.
  std::string video_source =
      o.file.empty() ? "videotestsrc is-live=true pattern=" + o.pattern
                     : "filesrc location=\"" + o.file + "\" ! decodebin name=d d. ! queue";
  std::string audio_source = o.file.empty() ? "audiotestsrc is-live=true wave=ticks" : "d. ! queue";
  std::string description =
      "webrtcbin name=webrtc bundle-policy=max-bundle " + video_source +
      " ! videoconvert ! videoscale ! videorate ! video/x-raw,format=I420,width=" +
      std::to_string(o.width) + ",height=" + std::to_string(o.height) + ",framerate=30/1 ! " +
      (o.codec == "vp8"
           ? std::string("vp8enc deadline=1 cpu-used=8 keyframe-max-dist=60 "
                         "target-bitrate=1500000 ! rtpvp8pay pt=96 ! "
                         "application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. ")
           : std::string(
                 "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 "
                 "key-int-max=60 bitrate=1500 ! video/x-h264,profile=constrained-baseline ! "
                 "rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency ! "
                 "application/x-rtp,media=video,encoding-name=H264,payload=96,"
                 "packetization-mode=(string)1 ! webrtc. "));
  if (o.audio) {
    description += audio_source +
                   " ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! "
                   "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc. ";
  }
  GError *error = nullptr;
  Session s;
  s.pipeline = gst_parse_launch(description.c_str(), &error);
  if (!s.pipeline) {
    std::fprintf(stderr, "livepipe whip-publish: %s\n", error ? error->message : "no pipeline");
    g_clear_error(&error);
    return kExitRuntime;
  }
  g_clear_error(&error);
  gst_object_ref_sink(s.pipeline);
  s.webrtc = gst_bin_get_by_name(GST_BIN(s.pipeline), "webrtc");
  gst_object_unref(s.webrtc);  // the pipeline keeps it
  set_sendonly(s.webrtc);
  return run_session(s, o, [] {});
}

int cmd_whep_play(int argc, char **argv) {
  Options o;
  int code = kExitOk;
  if (!parse(argc, argv, false, o, &code)) {
    return code;
  }
  GstElement *pipeline = gst_pipeline_new("whep-play");
  GstElement *webrtc = gst_element_factory_make("webrtcbin", "webrtc");
  g_object_set(webrtc, "bundle-policy", 3 /* max-bundle */, nullptr);
  gst_bin_add(GST_BIN(pipeline), webrtc);
  // Payload types other than the server's own, so it must follow the offer.
  for (const char *caps_text :
       {"application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
        "packetization-mode=(string)1,profile-level-id=(string)42e01f;"
        "application/x-rtp,media=video,encoding-name=VP8,payload=100,clock-rate=90000",
        "application/x-rtp,media=audio,encoding-name=OPUS,payload=109,clock-rate=48000,"
        "encoding-params=(string)2"}) {
    GstCaps *caps = gst_caps_from_string(caps_text);
    GstWebRTCRTPTransceiver *t = nullptr;
    g_signal_emit_by_name(webrtc, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                          caps, &t);
    gst_caps_unref(caps);
    if (t) {
      gst_object_unref(t);
    }
  }
  struct Counters {
    std::atomic<uint64_t> frames{0};
    std::atomic<int64_t> last_media_us{0};
    std::atomic<int> width{0}, height{0};
    FILE *stats = nullptr;  // --frame-stats; written on the streaming thread
  } counters;
  if (!o.frame_stats.empty() && !(counters.stats = std::fopen(o.frame_stats.c_str(), "w"))) {
    std::fprintf(stderr, "livepipe whep-play: cannot write %s\n", o.frame_stats.c_str());
    return kExitInvalid;
  }
  g_signal_connect(
      webrtc, "pad-added", G_CALLBACK(+[](GstElement *element, GstPad *pad, gpointer data) {
        auto *c = static_cast<Counters *>(data);
        if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
          return;
        }
        GstCaps *caps = gst_pad_get_current_caps(pad);
        const char *media =
            caps ? gst_structure_get_string(gst_caps_get_structure(caps, 0), "media") : nullptr;
        bool video = media && !std::strcmp(media, "video");
        if (video) {
          const char *encoding =
              gst_structure_get_string(gst_caps_get_structure(caps, 0), "encoding-name");
          std::printf("video codec: %s\n", encoding ? encoding : "unknown");
          std::fflush(stdout);
        }
        if (caps) {
          gst_caps_unref(caps);
        }
        auto *bin = GST_BIN(GST_ELEMENT_PARENT(element));
        GstElement *decode = gst_element_factory_make("decodebin", nullptr);
        GstElement *convert =
            gst_element_factory_make(video ? "videoconvert" : "audioconvert", nullptr);
        GstElement *sink = gst_element_factory_make("fakesink", nullptr);
        g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
        gst_bin_add_many(bin, decode, convert, sink, nullptr);
        if (video && c->stats) {
          GstCaps *i420 = gst_caps_from_string("video/x-raw,format=I420");
          gst_element_link_filtered(convert, sink, i420);
          gst_caps_unref(i420);
        } else {
          gst_element_link(convert, sink);
        }
        g_signal_connect(decode, "pad-added",
                         G_CALLBACK(+[](GstElement *, GstPad *src, gpointer to) {
                           GstPad *target = gst_element_get_static_pad(GST_ELEMENT(to), "sink");
                           gst_pad_link(src, target);
                           gst_object_unref(target);
                         }),
                         convert);
        if (video) {
          GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
          gst_pad_add_probe(
              sink_pad, GST_PAD_PROBE_TYPE_BUFFER,
              [](GstPad *p, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
                auto *c = static_cast<Counters *>(d);
                if (c->stats) {
                  write_frame_stats(c->stats, p, GST_PAD_PROBE_INFO_BUFFER(info));
                }
                if (c->frames.fetch_add(1) == 0) {
                  if (GstCaps *current = gst_pad_get_current_caps(p)) {
                    int w = 0, h = 0;
                    gst_structure_get_int(gst_caps_get_structure(current, 0), "width", &w);
                    gst_structure_get_int(gst_caps_get_structure(current, 0), "height", &h);
                    c->width = w;
                    c->height = h;
                    gst_caps_unref(current);
                  }
                }
                return GST_PAD_PROBE_OK;
              },
              c, nullptr);
          gst_object_unref(sink_pad);
        }
        GstPad *decode_sink = gst_element_get_static_pad(decode, "sink");
        gst_pad_add_probe(
            pad, GST_PAD_PROBE_TYPE_BUFFER,
            [](GstPad *, GstPadProbeInfo *, gpointer d) -> GstPadProbeReturn {
              static_cast<Counters *>(d)->last_media_us = g_get_monotonic_time();
              return GST_PAD_PROBE_OK;
            },
            c, nullptr);
        gst_pad_link(pad, decode_sink);
        gst_object_unref(decode_sink);
        gst_element_sync_state_with_parent(decode);
        gst_element_sync_state_with_parent(convert);
        gst_element_sync_state_with_parent(sink);
      }),
      &counters);
  Session s;
  s.pipeline = GST_ELEMENT(gst_object_ref_sink(pipeline));
  s.webrtc = webrtc;
  s.frames = &counters.frames;
  bool reported = false;
  int rc = run_session(s, o, [&] {
    if (!reported && counters.frames > 0) {
      reported = true;
      std::printf("first frame after %.0f ms: %dx%d\n",
                  (g_get_monotonic_time() - s.started_us) / 1000.0, counters.width.load(),
                  counters.height.load());
      std::fflush(stdout);
    }
    int64_t last = counters.last_media_us;
    if (last && g_get_monotonic_time() - last > o.stall_seconds * G_USEC_PER_SEC) {
      std::printf("the stream stopped: no media for %.1f s\n", o.stall_seconds);
      s.stop(kExitRuntime);
    }
  });
  std::printf("frames decoded: %llu\n", static_cast<unsigned long long>(counters.frames.load()));
  if (counters.stats) {
    std::fclose(counters.stats);  // the pipeline has stopped
  }
  if (rc == kExitOk && counters.frames == 0) {
    rc = kExitRuntime;
  }
  return rc;
}

}  // namespace livepipe::apps
