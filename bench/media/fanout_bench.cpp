// One 720p30 stream fanned out to N WebRTC viewers by `livepipe serve` and by
// Janus's streaming plugin, driven by bench/media/fanout.sh. Two roles:
//
//   fanout_bench sender --whip URL --rtp HOST:PORT --log FILE
//     Encodes the test pattern once (H.264 constrained baseline) and sends the
//     same RTP packets both to livepipe (published over WHIP) and as plain RTP
//     to Janus's RTP mountpoint. Every packet's payload hash, size and send
//     time (CLOCK_MONOTONIC) go to FILE.
//
//   fanout_bench viewers (--whep URL | --janus URL --mountpoint ID) --count N
//                        --sent FILE --server-pid PID [--seconds S] ...
//     N webrtcbin receivers in this process. Each decodes until its first
//     frame, then only receives. Prints one `result` line: the server's CPU,
//     memory and threads over the measurement window, every viewer's received
//     rate against the sent rate, time from request to first decoded frame,
//     and packet latency (payload hash matched against FILE, both times from
//     the same clock).
#include "util/gstptr.h"
#include "util/maincontext.h"
#include "answerer.h"
#include "icerestart.h"
#include "whip_client.h"

#include <glib-unix.h>
#include <gst/rtp/rtp.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

using livepipe::add_timeout;
using livepipe::invoke_on;
using livepipe::SourceGuard;
namespace media = livepipe::signaling::media;

namespace {

// The one local address every ICE agent here gathers on (--ice-address).
std::string ice_address = "127.0.0.1";

// FNV-1a over the RTP payload: the same bytes reach both servers, which
// rewrite headers (Janus) or payload the frames anew (livepipe) but not
// the payload bytes.
bool payload_hash(GstBuffer *buffer, uint64_t *hash, guint *size, bool *key = nullptr) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp)) {
    return false;
  }
  const auto *data = static_cast<const guint8 *>(gst_rtp_buffer_get_payload(&rtp));
  guint len = gst_rtp_buffer_get_payload_len(&rtp);
  if (key && len >= 2) {
    // H.264: an SPS (alone or first in a STAP-A) starts every key frame here.
    guint8 type = data[0] & 0x1f;
    *key = type == 7 || (type == 24 && len >= 4 && (data[3] & 0x1f) == 7);
  }
  uint64_t h = 1469598103934665603ULL;
  for (guint i = 0; i < len; ++i) {
    h = (h ^ data[i]) * 1099511628211ULL;
  }
  gst_rtp_buffer_unmap(&rtp);
  *hash = h;
  *size = len;
  return len > 0;
}

const char *value_of(int argc, char **argv, int &i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "fanout_bench: %s needs a value\n", argv[i]);
    std::exit(2);
  }
  return argv[++i];
}

// ---------------------------------------------------------------- sender

struct SentLog {
  std::mutex mutex;
  FILE *file = nullptr;
};

int run_sender(int argc, char **argv) {
  std::string whip, rtp_target, log_path;
  int bitrate = 1000, width = 1280, height = 720;
  double duration = 0;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--whip") {
      whip = value_of(argc, argv, i);
    } else if (arg == "--rtp") {
      rtp_target = value_of(argc, argv, i);
    } else if (arg == "--log") {
      log_path = value_of(argc, argv, i);
    } else if (arg == "--kbps") {
      bitrate = std::atoi(value_of(argc, argv, i));
    } else if (arg == "--duration") {
      duration = std::atof(value_of(argc, argv, i));
    } else if (arg == "--ice-address") {
      ice_address = value_of(argc, argv, i);
    } else {
      std::fprintf(stderr, "fanout_bench sender: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  auto colon = rtp_target.rfind(':');
  if (whip.empty() || log_path.empty() || colon == std::string::npos) {
    std::fprintf(stderr,
                 "usage: fanout_bench sender --whip URL --rtp HOST:PORT --log FILE "
                 "[--kbps 1000] [--duration S] [--ice-address IP]\n");
    return 2;
  }
  // Scrolling colour bars: enough motion for x264 to use the whole 1 Mb/s
  // (a static pattern stays near 0.2 Mb/s). Constrained baseline without
  // B-frames, a key frame every 2 s and on request (PLI from livepipe's publisher session); both
  // servers get the packets of this one payloader.
  std::string description =
      "webrtcbin name=webrtc bundle-policy=max-bundle "
      "videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
      "video/x-raw,format=I420,width=" +
      std::to_string(width) + ",height=" + std::to_string(height) +
      ",framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 "
      "key-int-max=60 bitrate=" +
      std::to_string(bitrate) +
      " ! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay pt=96 "
      "config-interval=-1 aggregate-mode=zero-latency ! "
      "application/x-rtp,media=video,encoding-name=H264,payload=96,"
      "packetization-mode=(string)1 ! tee name=t "
      "t. ! queue ! webrtc. "
      "t. ! queue ! udpsink sync=false async=false host=" +
      rtp_target.substr(0, colon) + " port=" + rtp_target.substr(colon + 1);
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    std::fprintf(stderr, "sender: %s\n", error ? error->message : "no pipeline");
    return 1;
  }
  g_clear_error(&error);
  gst_object_ref_sink(pipeline);
  GstElement *webrtc = gst_bin_get_by_name(GST_BIN(pipeline), "webrtc");
  GArray *transceivers = nullptr;
  g_signal_emit_by_name(webrtc, "get-transceivers", &transceivers);
  for (guint i = 0; transceivers && i < transceivers->len; ++i) {
    g_object_set(g_array_index(transceivers, GstWebRTCRTPTransceiver *, i), "direction",
                 GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
  }
  if (transceivers) {
    g_array_unref(transceivers);
  }
  media::disable_upnp(webrtc);
  media::add_ice_addresses(webrtc, {ice_address});

  SentLog log;
  log.file = std::fopen(log_path.c_str(), "w");
  if (!log.file) {
    std::fprintf(stderr, "sender: cannot write %s\n", log_path.c_str());
    return 1;
  }
  // Send time: the payloader's output, before the tee splits it.
  GstElement *pay = gst_bin_get_by_name(GST_BIN(pipeline), "pay");
  GstPad *pay_src = gst_element_get_static_pad(pay, "src");
  gst_pad_add_probe(
      pay_src, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        auto *log = static_cast<SentLog *>(data);
        int64_t now = g_get_monotonic_time();
        auto record = [&](GstBuffer *buffer) {
          uint64_t hash = 0;
          guint size = 0;
          if (payload_hash(buffer, &hash, &size)) {
            std::lock_guard lock(log->mutex);
            std::fprintf(log->file, "%016llx %u %lld\n", static_cast<unsigned long long>(hash),
                         size, static_cast<long long>(now));
          }
        };
        if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
          GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
          for (guint i = 0; i < gst_buffer_list_length(list); ++i) {
            record(gst_buffer_list_get(list, i));
          }
        } else {
          record(GST_PAD_PROBE_INFO_BUFFER(info));
        }
        std::lock_guard lock(log->mutex);
        std::fflush(log->file);
        return GST_PAD_PROBE_OK;
      },
      &log, nullptr);
  gst_object_unref(pay_src);
  gst_object_unref(pay);

  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  media::WhipClient client(webrtc, whip, "");
  int code = 0;
  client.start([&](const media::WhipClient::Result &r) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "sender: WHIP: %s\n", r.error.c_str());
      code = 1;
      g_main_loop_quit(loop);
      return;
    }
    std::printf("session %s\n", r.location.c_str());
    std::fflush(stdout);
  });
  auto quit = +[](gpointer data) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(data));
    return G_SOURCE_REMOVE;
  };
  guint sigint = g_unix_signal_add(SIGINT, quit, loop);
  guint sigterm = g_unix_signal_add(SIGTERM, quit, loop);
  if (duration > 0) {
    g_timeout_add(static_cast<guint>(duration * 1000), quit, loop);
  }
  g_main_loop_run(loop);
  g_source_remove(sigint);
  g_source_remove(sigterm);
  if (code == 0) {
    GMainLoop *stop_loop = g_main_loop_new(nullptr, FALSE);
    client.stop([stop_loop](guint) { g_main_loop_quit(stop_loop); });
    SourceGuard bound = add_timeout(nullptr, 2000, [stop_loop] {
      g_main_loop_quit(stop_loop);
      return false;
    });
    g_main_loop_run(stop_loop);
    g_main_loop_unref(stop_loop);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(webrtc);
  gst_object_unref(pipeline);
  g_main_loop_unref(loop);
  std::fclose(log.file);
  return code;
}

// ---------------------------------------------------------------- viewers

struct Arrival {
  uint64_t hash;
  int64_t t_us;
  guint size;
};

struct Viewer {
  int index = 0;
  GstElement *pipeline = nullptr;
  GstElement *webrtc = nullptr;
  std::unique_ptr<media::WhipClient> whep;
  std::unique_ptr<media::Answerer> answerer;
  std::string janus_session, janus_handle;
  int64_t request_us = 0;   // the WHEP POST or the Janus "watch" request
  int64_t signaled_us = 0;  // the WHEP answer, or Janus's reply to "start"
  std::atomic<int64_t> first_packet_us{0};
  std::atomic<int64_t> first_keyframe_us{0};
  std::atomic<int64_t> first_frame_us{0};
  std::atomic<bool> decoded{false};
  std::string error;
  std::mutex mutex;
  std::vector<Arrival> arrivals;
};

// A JSON request to Janus's HTTP API; `done` gets the reply's root object
// (null and an error when the request failed).
class JanusApi {
 public:
  explicit JanusApi(std::string base) : base_(std::move(base)) {
    session_ = soup_session_new_with_options("max-conns", 1024, "max-conns-per-host", 1024,
                                             "timeout", 60, nullptr);
  }
  ~JanusApi() { g_object_unref(session_); }
  using Done = std::function<void(JsonObject *reply, const std::string &error)>;

  void request(const char *method, const std::string &path, JsonNode *body, Done done) {
    SoupMessage *msg = soup_message_new(method, (base_ + path).c_str());
    if (body) {
      gchar *text = json_to_string(body, FALSE);
      GBytes *bytes = g_bytes_new_take(text, std::strlen(text));
      soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
      g_bytes_unref(bytes);
      json_node_unref(body);
    }
    struct Call {
      SoupMessage *msg;
      Done done;
    };
    soup_session_send_and_read_async(
        session_, msg, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *res, gpointer data) {
          std::unique_ptr<Call> call(static_cast<Call *>(data));
          GError *error = nullptr;
          GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
          std::string why;
          JsonParser *parser = json_parser_new();
          JsonObject *reply = nullptr;
          if (!bytes) {
            why = error ? error->message : "no reply";
          } else {
            gsize size = 0;
            const char *text = static_cast<const char *>(g_bytes_get_data(bytes, &size));
            if (!json_parser_load_from_data(parser, text ? text : "", size, nullptr) ||
                !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
              why = "the reply is not a JSON object";
            } else {
              reply = json_node_get_object(json_parser_get_root(parser));
              if (!g_strcmp0(json_object_get_string_member_with_default(reply, "janus", ""),
                             "error")) {
                why = "Janus error: " +
                      std::string(json_object_get_string_member_with_default(
                          json_object_get_object_member(reply, "error"), "reason", "?"));
                reply = nullptr;
              }
            }
            g_bytes_unref(bytes);
          }
          call->done(reply, why);
          g_object_unref(parser);
          g_clear_error(&error);
          g_object_unref(call->msg);
        },
        new Call{msg, std::move(done)});
  }

  static JsonNode *message(const char *janus, std::function<void(JsonBuilder *)> fill = {}) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "janus");
    json_builder_add_string_value(b, janus);
    json_builder_set_member_name(b, "transaction");
    json_builder_add_string_value(b, std::to_string(++transaction_).c_str());
    if (fill) {
      fill(b);
    }
    json_builder_end_object(b);
    JsonNode *node = json_builder_get_root(b);
    g_object_unref(b);
    return node;
  }

 private:
  std::string base_;
  SoupSession *session_ = nullptr;
  static inline unsigned transaction_ = 0;
};

std::string id_string(JsonObject *reply) {
  JsonObject *data = json_object_get_object_member(reply, "data");
  return data ? std::to_string(json_object_get_int_member(data, "id")) : std::string();
}

struct ProcSample {
  double cpu_seconds = 0;
  double rss_mib = 0;
  long threads = 0;
};

ProcSample sample_process(int pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) {
      fields.push_back(f);
    }
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    if (fields.size() > 13) {
      s.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_mib = std::atof(line.c_str() + 6) / 1024.0;
    } else if (line.rfind("Threads:", 0) == 0) {
      s.threads = std::atol(line.c_str() + 8);
    }
  }
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return NAN;
  }
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct ViewerOptions {
  std::string whep, janus, server = "server";
  int mountpoint = 1;
  int count = 1;
  std::string sent;
  int server_pid = 0;
  double seconds = 10, settle = 2, join_timeout = 30;
  guint join_interval_ms = 100;
  guint latency_ms = 50;
  double full_rate = 0.95;
};

// Decodes the video until the first frame, then only lets packets arrive.
// Like a browser, the depayloader asks for a key frame (PLI) when the first
// packets it gets cannot start a picture.
void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *v = static_cast<Viewer *>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
    return;
  }
  GstElement *bin = gst_parse_bin_from_description(
      "rtph264depay name=depay request-keyframe=true ! h264parse ! avdec_h264 name=dec "
      "output-corrupt=false max-threads=1 ! "
      "fakesink async=false sync=false",
      TRUE, nullptr);
  if (!bin) {
    return;
  }
  GstElement *depay = gst_bin_get_by_name(GST_BIN(bin), "depay");
  GstElement *dec = gst_bin_get_by_name(GST_BIN(bin), "dec");
  GstPad *depay_sink = gst_element_get_static_pad(depay, "sink");
  gst_pad_add_probe(
      depay_sink, GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM,
      [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        auto *v = static_cast<Viewer *>(data);
        bool media = info->type & (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST);
        return media && v->decoded.load() ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
      },
      v, nullptr);
  GstPad *dec_src = gst_element_get_static_pad(dec, "src");
  gst_pad_add_probe(
      dec_src, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer data) -> GstPadProbeReturn {
        auto *v = static_cast<Viewer *>(data);
        int64_t expected = 0;
        v->first_frame_us.compare_exchange_strong(expected, g_get_monotonic_time());
        v->decoded = true;
        return GST_PAD_PROBE_REMOVE;
      },
      v, nullptr);
  gst_object_unref(dec_src);
  gst_object_unref(depay_sink);
  gst_object_unref(dec);
  gst_object_unref(depay);
  gst_bin_add(GST_BIN(v->pipeline), bin);
  gst_element_sync_state_with_parent(bin);
  GstPad *sink = gst_element_get_static_pad(bin, "sink");
  gst_pad_link(pad, sink);
  gst_object_unref(sink);
}

// Arrival time of every packet: the input of the receiver's jitter buffer,
// after SRTP is removed and before any buffering.
void on_new_jitterbuffer(GstElement *, GstElement *jitterbuffer, guint, guint, gpointer data) {
  GstPad *pad = gst_element_get_static_pad(jitterbuffer, "sink");
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        auto *v = static_cast<Viewer *>(data);
        int64_t now = g_get_monotonic_time();
        auto record = [&](GstBuffer *buffer) {
          uint64_t hash = 0;
          guint size = 0;
          bool key = false;
          if (payload_hash(buffer, &hash, &size, &key)) {
            int64_t none = 0;
            v->first_packet_us.compare_exchange_strong(none, now);
            if (key) {
              none = 0;
              v->first_keyframe_us.compare_exchange_strong(none, now);
            }
            std::lock_guard lock(v->mutex);
            v->arrivals.push_back({hash, now, size});
          }
        };
        if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
          GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
          for (guint i = 0; i < gst_buffer_list_length(list); ++i) {
            record(gst_buffer_list_get(list, i));
          }
        } else {
          record(GST_PAD_PROBE_INFO_BUFFER(info));
        }
        return GST_PAD_PROBE_OK;
      },
      data, nullptr);
  gst_object_unref(pad);
}

bool make_viewer_pipeline(Viewer &v, const ViewerOptions &o, bool add_recvonly) {
  v.pipeline = gst_pipeline_new(nullptr);
  gst_object_ref_sink(v.pipeline);
  v.webrtc = gst_element_factory_make("webrtcbin", nullptr);
  g_object_set(v.webrtc, "bundle-policy", 3 /* max-bundle */, "latency", o.latency_ms, nullptr);
  gst_bin_add(GST_BIN(v.pipeline), v.webrtc);
  media::disable_upnp(v.webrtc);
  media::add_ice_addresses(v.webrtc, {ice_address});
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(v.webrtc), "rtpbin");
  if (!rtpbin) {
    v.error = "webrtcbin has no rtpbin child";
    return false;
  }
  g_signal_connect(rtpbin, "new-jitterbuffer", G_CALLBACK(on_new_jitterbuffer), &v);
  gst_object_unref(rtpbin);
  g_signal_connect(v.webrtc, "pad-added", G_CALLBACK(on_pad_added), &v);
  if (add_recvonly) {
    GstCaps *caps = gst_caps_from_string(
        "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
        "packetization-mode=(string)1,profile-level-id=(string)42e01f");
    GstWebRTCRTPTransceiver *t = nullptr;
    g_signal_emit_by_name(v.webrtc, "add-transceiver",
                          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
    gst_caps_unref(caps);
    if (t) {
      gst_object_unref(t);
    }
  }
  return gst_element_set_state(v.pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

void start_whep(Viewer &v, const ViewerOptions &o) {
  if (!make_viewer_pipeline(v, o, true)) {
    return;
  }
  v.whep = std::make_unique<media::WhipClient>(v.webrtc, o.whep, "");
  v.whep->start([&v](const media::WhipClient::Result &r) {
    v.request_us = r.posted_us;
    v.signaled_us = g_get_monotonic_time();
    if (!r.error.empty()) {
      v.error = "WHEP: " + r.error;
    }
  });
}

void start_janus(Viewer &v, const ViewerOptions &o, JanusApi &api) {
  if (!make_viewer_pipeline(v, o, false)) {
    return;
  }
  v.answerer = std::make_unique<media::Answerer>(v.webrtc, [](const std::string &) {});
  int mountpoint = o.mountpoint;
  api.request(
      "POST", "", JanusApi::message("create"),
      [&v, &api, mountpoint](JsonObject *r, std::string e) {
        if (!r) {
          v.error = "create: " + e;
          return;
        }
        v.janus_session = id_string(r);
        auto attach = JanusApi::message("attach", [](JsonBuilder *b) {
          json_builder_set_member_name(b, "plugin");
          json_builder_add_string_value(b, "janus.plugin.streaming");
        });
        api.request(
            "POST", "/" + v.janus_session, attach,
            [&v, &api, mountpoint](JsonObject *r, std::string e) {
              if (!r) {
                v.error = "attach: " + e;
                return;
              }
              v.janus_handle = id_string(r);
              auto watch = JanusApi::message("message", [mountpoint](JsonBuilder *b) {
                json_builder_set_member_name(b, "body");
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "request");
                json_builder_add_string_value(b, "watch");
                json_builder_set_member_name(b, "id");
                json_builder_add_int_value(b, mountpoint);
                json_builder_end_object(b);
              });
              v.request_us = g_get_monotonic_time();
              api.request("POST", "/" + v.janus_session + "/" + v.janus_handle, watch,
                          [&v](JsonObject *r, std::string e) {
                            if (!r) {
                              v.error = "watch: " + e;
                            }
                          });
              // The offer comes as an event on the session's long poll.
              auto poll = std::make_shared<std::function<void()>>();
              *poll = [&v, &api, poll] {
                api.request(
                    "GET", "/" + v.janus_session + "?maxev=1", nullptr,
                    [&v, &api, poll](JsonObject *r, std::string e) {
                      if (!r) {
                        v.error = "poll: " + e;
                        *poll = nullptr;
                        return;
                      }
                      JsonObject *jsep = json_object_get_object_member(r, "jsep");
                      if (!jsep ||
                          g_strcmp0(json_object_get_string_member_with_default(jsep, "type", ""),
                                    "offer")) {
                        (*poll)();
                        return;
                      }
                      std::string offer =
                          json_object_get_string_member_with_default(jsep, "sdp", "");
                      *poll = nullptr;  // the offer was the last event needed
                      v.answerer->answer(
                          offer, 1500,
                          [&v, &api](const std::string &answer, const std::string &error) {
                            if (!error.empty()) {
                              v.error = "answer: " + error;
                              return;
                            }
                            auto start = JanusApi::message("message", [&answer](JsonBuilder *b) {
                              json_builder_set_member_name(b, "body");
                              json_builder_begin_object(b);
                              json_builder_set_member_name(b, "request");
                              json_builder_add_string_value(b, "start");
                              json_builder_end_object(b);
                              json_builder_set_member_name(b, "jsep");
                              json_builder_begin_object(b);
                              json_builder_set_member_name(b, "type");
                              json_builder_add_string_value(b, "answer");
                              json_builder_set_member_name(b, "sdp");
                              json_builder_add_string_value(b, answer.c_str());
                              json_builder_end_object(b);
                            });
                            api.request("POST", "/" + v.janus_session + "/" + v.janus_handle, start,
                                        [&v](JsonObject *r, std::string e) {
                                          v.signaled_us = g_get_monotonic_time();
                                          if (!r) {
                                            v.error = "start: " + e;
                                          }
                                        });
                          });
                    });
              };
              (*poll)();
            });
      });
}

// Waits on the main loop until `done` holds or `seconds` pass.
void run_until(double seconds, const std::function<bool()> &done) {
  int64_t end = g_get_monotonic_time() + static_cast<int64_t>(seconds * G_USEC_PER_SEC);
  SourceGuard wake = add_timeout(nullptr, 10, [] { return true; });
  while (!done() && g_get_monotonic_time() < end) {
    g_main_context_iteration(nullptr, TRUE);
  }
}

int run_viewers(int argc, char **argv) {
  ViewerOptions o;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--whep") {
      o.whep = value_of(argc, argv, i);
    } else if (arg == "--janus") {
      o.janus = value_of(argc, argv, i);
    } else if (arg == "--mountpoint") {
      o.mountpoint = std::atoi(value_of(argc, argv, i));
    } else if (arg == "--name") {
      o.server = value_of(argc, argv, i);
    } else if (arg == "--count") {
      o.count = std::atoi(value_of(argc, argv, i));
    } else if (arg == "--sent") {
      o.sent = value_of(argc, argv, i);
    } else if (arg == "--server-pid") {
      o.server_pid = std::atoi(value_of(argc, argv, i));
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value_of(argc, argv, i));
    } else if (arg == "--settle") {
      o.settle = std::atof(value_of(argc, argv, i));
    } else if (arg == "--join-interval-ms") {
      o.join_interval_ms = static_cast<guint>(std::atoi(value_of(argc, argv, i)));
    } else if (arg == "--latency") {
      o.latency_ms = static_cast<guint>(std::atoi(value_of(argc, argv, i)));
    } else if (arg == "--ice-address") {
      ice_address = value_of(argc, argv, i);
    } else {
      std::fprintf(stderr, "fanout_bench viewers: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (o.whep.empty() == o.janus.empty() || o.sent.empty() || o.server_pid <= 0 || o.count < 0 ||
      o.count > 1000 || o.seconds <= 0) {
    std::fprintf(stderr,
                 "usage: fanout_bench viewers (--whep URL | --janus URL [--mountpoint ID]) "
                 "--count N --sent FILE --server-pid PID [--name NAME] [--seconds S] "
                 "[--settle S] [--join-interval-ms MS] [--latency MS] [--ice-address IP]\n");
    return 2;
  }
  // A browser has its decoders loaded before it plays; so does this viewer
  // process: loading gst-libav registers every codec libavcodec has and took
  // several hundred milliseconds, which the first viewer of each round would
  // otherwise count as the server's time to first frame.
  for (const char *factory : {"rtph264depay", "h264parse", "avdec_h264"}) {
    if (GstElement *element = gst_element_factory_make(factory, nullptr)) {
      gst_object_unref(gst_object_ref_sink(element));
    }
  }
  JanusApi api(o.janus);
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < o.count; ++i) {
    auto v = std::make_unique<Viewer>();
    v->index = i;
    if (o.janus.empty()) {
      start_whep(*v, o);
    } else {
      start_janus(*v, o, api);
    }
    viewers.push_back(std::move(v));
    run_until(o.join_interval_ms / 1000.0, [] { return false; });
  }
  auto all_started = [&] {
    return std::all_of(viewers.begin(), viewers.end(),
                       [](auto &v) { return v->first_frame_us.load() || !v->error.empty(); });
  };
  run_until(o.join_timeout, all_started);
  run_until(o.settle, [] { return false; });

  ProcSample before = sample_process(o.server_pid);
  int64_t window_start = g_get_monotonic_time();
  run_until(o.seconds, [] { return false; });
  int64_t window_end = g_get_monotonic_time();
  ProcSample after = sample_process(o.server_pid);
  double window_s = (window_end - window_start) / 1e6;

  // What was sent: hash -> send time (hashes sent more than once are left
  // out of the latency), and the payload bytes sent in the window.
  std::unordered_map<uint64_t, int64_t> sent_at;
  std::unordered_map<uint64_t, int> sent_times;
  double sent_bytes = 0;
  {
    std::ifstream in(o.sent);
    std::string hex;
    unsigned size = 0;
    long long t = 0;
    while (in >> hex >> size >> t) {
      uint64_t hash = std::stoull(hex, nullptr, 16);
      sent_at[hash] = t;
      ++sent_times[hash];
      if (t >= window_start && t < window_end) {
        sent_bytes += size;
      }
    }
  }
  std::vector<double> first_frame_ms, signaled_ms, first_packet_ms, first_key_ms, latency_ms, rates;
  int full = 0, failed = 0;
  std::string first_error;
  for (auto &v : viewers) {
    if (!v->error.empty() || !v->first_frame_us.load()) {
      ++failed;
      if (first_error.empty()) {
        first_error = v->error.empty() ? "no frame decoded" : v->error;
        if (v->webrtc) {
          GstWebRTCICEConnectionState ice;
          GstWebRTCPeerConnectionState pc;
          g_object_get(v->webrtc, "ice-connection-state", &ice, "connection-state", &pc, nullptr);
          size_t packets = 0;
          {
            std::lock_guard lock(v->mutex);
            packets = v->arrivals.size();
          }
          first_error += " (viewer " + std::to_string(v->index) + ": ICE state " +
                         std::to_string(ice) + ", connection state " + std::to_string(pc) +
                         ", packets " + std::to_string(packets) + ")";
        }
      }
    }
    if (v->first_frame_us.load() && v->request_us) {
      first_frame_ms.push_back((v->first_frame_us.load() - v->request_us) / 1000.0);
      signaled_ms.push_back((v->signaled_us - v->request_us) / 1000.0);
      first_packet_ms.push_back((v->first_packet_us.load() - v->request_us) / 1000.0);
      first_key_ms.push_back((v->first_keyframe_us.load() - v->request_us) / 1000.0);
    }
    double bytes = 0;
    std::lock_guard lock(v->mutex);
    for (const auto &a : v->arrivals) {
      if (a.t_us < window_start || a.t_us >= window_end) {
        continue;
      }
      bytes += a.size;
      auto it = sent_at.find(a.hash);
      if (it != sent_at.end() && sent_times[a.hash] == 1) {
        latency_ms.push_back((a.t_us - it->second) / 1000.0);
      }
    }
    rates.push_back(bytes * 8 / window_s / 1000.0);
    if (sent_bytes > 0 && bytes >= o.full_rate * sent_bytes) {
      ++full;
    }
  }
  double cpu = (after.cpu_seconds - before.cpu_seconds) / window_s * 100.0;
  std::printf(
      "result server=%s n=%d failed=%d cpu_pct=%.2f rss_mib=%.1f threads=%ld "
      "sent_kbps=%.0f rate_min_kbps=%.0f rate_med_kbps=%.0f full_rate=%d/%d "
      "first_frame_med_ms=%.0f first_frame_p90_ms=%.0f first_frame_max_ms=%.0f "
      "signaled_med_ms=%.0f first_packet_med_ms=%.0f first_keyframe_med_ms=%.0f "
      "latency_med_ms=%.2f latency_p90_ms=%.2f latency_p99_ms=%.2f latency_samples=%zu\n",
      o.server.c_str(), o.count, failed, cpu, after.rss_mib, after.threads,
      sent_bytes * 8 / window_s / 1000.0, percentile(rates, 0), percentile(rates, 0.5), full,
      o.count, percentile(first_frame_ms, 0.5), percentile(first_frame_ms, 0.9),
      percentile(first_frame_ms, 1), percentile(signaled_ms, 0.5), percentile(first_packet_ms, 0.5),
      percentile(first_key_ms, 0.5), percentile(latency_ms, 0.5), percentile(latency_ms, 0.9),
      percentile(latency_ms, 0.99), latency_ms.size());
  if (!first_error.empty()) {
    std::printf("first error: %s\n", first_error.c_str());
  }
  std::fflush(stdout);

  // Leave: DELETE each WHEP session, destroy each Janus session, so the
  // server is back to no viewers before the next round.
  std::atomic<int> pending{0};
  for (auto &v : viewers) {
    if (v->whep) {
      ++pending;
      v->whep->stop([&pending](guint) { --pending; });
    } else if (!v->janus_session.empty()) {
      ++pending;
      api.request("POST", "/" + v->janus_session, JanusApi::message("destroy"),
                  [&pending](JsonObject *, std::string) { --pending; });
    }
  }
  run_until(10, [&] { return pending.load() == 0; });
  for (auto &v : viewers) {
    v->whep.reset();
    v->answerer.reset();
    if (v->pipeline) {
      gst_element_set_state(v->pipeline, GST_STATE_NULL);
      gst_object_unref(v->pipeline);
    }
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc >= 2 && !std::strcmp(argv[1], "sender")) {
    return run_sender(argc - 2, argv + 2);
  }
  if (argc >= 2 && !std::strcmp(argv[1], "viewers")) {
    return run_viewers(argc - 2, argv + 2);
  }
  std::fprintf(stderr, "usage: fanout_bench sender ... | fanout_bench viewers ...\n");
  return 2;
}
