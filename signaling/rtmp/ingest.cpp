#include "ingest.h"

#include "http_reply.h"
#include "token.h"
#include "util/gstptr.h"
#include "util/maincontext.h"

#include <gst/app/app.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <set>
#include <sys/wait.h>

namespace livepipe::signaling::rtmp {
namespace {

constexpr char kModule[] = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
// How many video frames the B-frame check looks at before it decides.
constexpr int kProbeFrames = 30;
constexpr int64_t kProbeTimeoutUs = 10 * G_USEC_PER_SEC;
constexpr int64_t kRestartMaxMs = 10000;

std::string random_hex(size_t bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    guint32 value = g_random_int();
    out += digits[value & 15];
    out += digits[(value >> 4) & 15];
  }
  return out;
}

}  // namespace

std::string check_publish_key(const Config &config, const std::vector<std::string> &keys,
                              const std::string &stream, const std::string &token,
                              int64_t now_unix) {
  for (const auto &key : keys) {
    if (!token.empty() && token == key) {
      return {};
    }
  }
  if (config.token_secret.empty()) {
    return keys.empty() ? "" : "the stream key is not one of the configured keys";
  }
  if (token.empty()) {
    return "a publish token (?token=...) is required";
  }
  auto verified = verify_token(token, config.token_secret, now_unix);
  if (auto *error = std::get_if<TokenError>(&verified)) {
    return error->reason;
  }
  const Claims &claims = std::get<Claims>(verified);
  if (!role_allows(claims.role, Role::kPublish)) {
    return std::string("the token's role ") + role_name(claims.role) + " may not publish";
  }
  if (!claims.stream.empty() && claims.stream != stream && claims.role != Role::kAdmin) {
    return "the token is for stream " + claims.stream;
  }
  return {};
}

std::string nginx_config(const IngestOptions &options, const std::filesystem::path &dir,
                         const std::string &hook_base) {
  std::string host =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  return "# Written by livepipe serve; regenerated at every start.\n"
         "daemon off;\n"
         "master_process off;\n"
         "worker_processes 1;\n"
         "pid " +
         (dir / "nginx.pid").string() + ";\nerror_log " + (dir / "error.log").string() +
         " warn;\nload_module " + kModule +
         ";\nevents { worker_connections 1024; }\n"
         "rtmp {\n"
         "  server {\n"
         "    listen " +
         host + ":" + std::to_string(options.port) +
         ";\n"
         "    application live {\n"
         "      live on;\n"
         "      record off;\n"
         "      notify_method post;\n"
         "      on_publish " +
         hook_base +
         "/publish;\n"
         "      on_publish_done " +
         hook_base +
         "/publish_done;\n"
         "    }\n"
         "  }\n"
         "}\n";
}

// Reads the first video frames of a new RTMP stream to tell whether its H.264
// has B-frames (a frame whose presentation time differs from its decoding
// time), which browsers cannot play; the answer picks the pull description.
struct BframeProbe {
  GstPtr<GstElement> pipeline;
  std::atomic<int> frames{0};
  std::atomic<bool> reordered{false};
  int64_t started_us = g_get_monotonic_time();

  bool start(const std::string &url, std::string *error) {
    pipeline = sink(gst_pipeline_new(nullptr));
    GstElement *src = gst_element_factory_make("rtmp2src", nullptr);
    GstElement *demux = gst_element_factory_make("flvdemux", nullptr);
    GstElement *queue = gst_element_factory_make("queue", "probe-queue");
    GstElement *parse = gst_element_factory_make("h264parse", nullptr);
    GstElement *out = gst_element_factory_make("appsink", nullptr);
    GstElement *audio = gst_element_factory_make("fakesink", "probe-audio");
    if (!src || !demux || !queue || !parse || !out || !audio) {
      for (GstElement *e : {src, demux, queue, parse, out, audio}) {
        if (e) {
          gst_object_unref(gst_object_ref_sink(e));
        }
      }
      *error = "rtmp2src, flvdemux or h264parse is missing";
      return false;
    }
    g_object_set(src, "location", url.c_str(), nullptr);
    g_object_set(out, "sync", FALSE, "async", FALSE, "max-buffers", 1u, "drop", TRUE, nullptr);
    g_object_set(audio, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add_many(GST_BIN(pipeline.get()), src, demux, queue, parse, out, audio, nullptr);
    gst_element_link(src, demux);
    gst_element_link_many(queue, parse, out, nullptr);
    // flvdemux adds its pads as the tags come, in either order and possibly
    // after no-more-pads: link each as it appears.
    g_signal_connect(demux, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer data) {
                       auto *bin = static_cast<GstBin *>(data);
                       GstPtr<GstElement> queue(gst_bin_get_by_name(bin, "probe-queue"));
                       GstPtr<GstElement> audio(gst_bin_get_by_name(bin, "probe-audio"));
                       GstElement *target =
                           g_str_has_prefix(GST_PAD_NAME(pad), "video") ? queue.get() : audio.get();
                       GstPtr<GstPad> sink_pad(gst_element_get_static_pad(target, "sink"));
                       if (!gst_pad_is_linked(sink_pad.get())) {
                         gst_pad_link(pad, sink_pad.get());
                       }
                     }),
                     pipeline.get());
    GstAppSinkCallbacks callbacks{};
    callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
      auto *self = static_cast<BframeProbe *>(data);
      if (GstSample *sample = gst_app_sink_pull_sample(sink)) {
        GstBuffer *buffer = gst_sample_get_buffer(sample);
        if (buffer && GST_BUFFER_DTS_IS_VALID(buffer) && GST_BUFFER_PTS_IS_VALID(buffer) &&
            GST_BUFFER_PTS(buffer) != GST_BUFFER_DTS(buffer)) {
          self->reordered = true;
        }
        self->frames.fetch_add(1);
        gst_sample_unref(sample);
      }
      return GST_FLOW_OK;
    };
    gst_app_sink_set_callbacks(GST_APP_SINK(out), &callbacks, this, nullptr);
    if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      *error = "the probe did not start";
      return false;
    }
    return true;
  }
  bool decided() const { return reordered.load() || frames.load() >= kProbeFrames; }
  bool timed_out() const { return g_get_monotonic_time() - started_us > kProbeTimeoutUs; }
  ~BframeProbe() {
    if (pipeline) {
      gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    }
  }
};

struct RtmpIngest::Impl {
  const Config &config;
  media::MediaService &media;
  Logger &log;
  IngestOptions options;
  std::filesystem::path dir;
  bool own_dir = false;
  std::string secret = random_hex(16);
  GPid pid = 0;
  guint child_watch = 0;
  bool stopping = false;
  int64_t restart_delay_ms = 500;
  int64_t started_us = 0;
  SourceGuard restart_timer;
  SourceGuard probe_timer;
  std::map<std::string, std::unique_ptr<BframeProbe>> probes;
  std::set<std::string> ours;  // streams fed by nginx

  Impl(const Config &c, media::MediaService &m, Logger &l, IngestOptions o)
      : config(c), media(m), log(l), options(std::move(o)) {}

  std::string pull_url(const std::string &stream) const {
    std::string host =
        options.host == "0.0.0.0" || options.host == "::" ? "127.0.0.1" : options.host;
    if (host.find(':') != std::string::npos) {
      host = "[" + host + "]";
    }
    return "rtmp://" + host + ":" + std::to_string(options.port) + "/live/" + stream;
  }

  bool spawn(std::string *error) {
    std::string prefix = dir.string() + "/";
    std::string conf = (dir / "nginx.conf").string();
    std::string errors = (dir / "error.log").string();
    const char *argv[] = {"nginx",      "-p", prefix.c_str(), "-c",
                          conf.c_str(), "-e", errors.c_str(), nullptr};
    GError *gerror = nullptr;
    if (!g_spawn_async(nullptr, const_cast<gchar **>(argv), nullptr,
                       GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), nullptr,
                       nullptr, &pid, &gerror)) {
      *error = std::string("cannot start nginx: ") + (gerror ? gerror->message : "unknown");
      g_clear_error(&gerror);
      return false;
    }
    started_us = g_get_monotonic_time();
    child_watch = g_child_watch_add(
        pid,
        [](GPid child, gint status, gpointer data) {
          auto *self = static_cast<Impl *>(data);
          g_spawn_close_pid(child);
          self->pid = 0;
          self->child_watch = 0;
          self->exited(status);
        },
        this);
    log.info("rtmp-ingest", {{"pid", std::to_string(pid)},
                             {"listen", options.host + ":" + std::to_string(options.port)},
                             {"dir", dir.string()}});
    return true;
  }

  // nginx died: its publishers are gone; restart it with a growing delay.
  void exited(gint status) {
    if (stopping) {
      return;
    }
    // One that ran for a while was healthy: restart quickly again.
    if (g_get_monotonic_time() - started_us > 30 * G_USEC_PER_SEC) {
      restart_delay_ms = 500;
    }
    log.error("rtmp-ingest-exited", {{"status", std::to_string(status)},
                                     {"restart-in-ms", std::to_string(restart_delay_ms)}});
    for (const auto &name : std::set<std::string>(ours)) {
      media.end_stream(name, "the RTMP server stopped");
    }
    ours.clear();
    probes.clear();
    restart_timer = add_timeout(g_main_context_get_thread_default(),
                                static_cast<guint>(restart_delay_ms), [this] {
                                  std::string error;
                                  if (!spawn(&error)) {
                                    log.error("rtmp-ingest-restart-failed", {{"error", error}});
                                  }
                                  return false;
                                });
    restart_delay_ms = std::min(restart_delay_ms * 2, kRestartMaxMs);
  }

  static void handle(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                     gpointer data) {
    static_cast<Impl *>(data)->hook(msg, path);
  }

  void reply(SoupServerMessage *msg, guint status, const std::string &text) {
    soup_server_message_set_status(msg, status, nullptr);
    soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_COPY, text.data(), text.size());
  }

  void hook(SoupServerMessage *msg, const std::string &path) {
    const std::string base = "/rtmp/hook/" + secret + "/";
    if (path.rfind(base, 0) != 0 || std::string(soup_server_message_get_method(msg)) != "POST") {
      reply(msg, SOUP_STATUS_NOT_FOUND, "not found");
      return;
    }
    std::string call = path.substr(base.size());
    std::string text = request_body(msg);
    GHashTable *form = soup_form_decode(text.c_str());
    auto field = [form](const char *name) {
      const char *value = static_cast<const char *>(g_hash_table_lookup(form, name));
      return std::string(value ? value : "");
    };
    std::string name = field("name");
    std::string app = field("app");
    std::string token = field("token").empty() ? field("key") : field("token");
    g_hash_table_unref(form);
    if (call == "publish") {
      publish(msg, app, name, token);
    } else if (call == "publish_done") {
      publish_done(name);
      reply(msg, SOUP_STATUS_OK, "ok");
    } else {
      reply(msg, SOUP_STATUS_NOT_FOUND, "not found");
    }
  }

  void publish(SoupServerMessage *msg, const std::string &app, const std::string &name,
               const std::string &token) {
    if (app != "live") {
      reply(msg, SOUP_STATUS_FORBIDDEN, "publish to rtmp://host/live/{stream}");
      return;
    }
    std::string why =
        check_publish_key(config, options.keys, name, token, g_get_real_time() / G_USEC_PER_SEC);
    if (why.empty() && (media.find_stream(name) || probes.count(name) || ours.count(name))) {
      why = "stream " + name + " already has a publisher";
    }
    if (!why.empty()) {
      log.info("rtmp-publish-refused", {{"stream", name}, {"reason", why}});
      reply(msg, SOUP_STATUS_FORBIDDEN, why);
      return;
    }
    auto probe = std::make_unique<BframeProbe>();
    std::string error;
    if (!probe->start(pull_url(name), &error)) {
      log.error("rtmp-probe-failed", {{"stream", name}, {"error", error}});
      reply(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error);
      return;
    }
    probes[name] = std::move(probe);
    log.info("rtmp-publish", {{"stream", name}});
    reply(msg, SOUP_STATUS_OK, "ok");
  }

  void check_probes() {
    for (auto it = probes.begin(); it != probes.end();) {
      BframeProbe &probe = *it->second;
      if (!probe.decided() && !probe.timed_out()) {
        ++it;
        continue;
      }
      std::string name = it->first;
      bool decided = probe.decided();
      bool transcode = probe.reordered.load();
      it = probes.erase(it);
      if (!decided) {
        log.error("rtmp-publish-no-video", {{"stream", name}});
        continue;
      }
      start_stream(name, transcode);
    }
  }

  void start_stream(const std::string &name, bool transcode) {
    media::OfferPlan plan;
    media::ChosenMedia video;
    video.kind = "video";
    video.codec = media::Codec::kH264;
    video.payload_type = 96;
    video.clock_rate = 90000;
    media::ChosenMedia audio;
    audio.kind = "audio";
    audio.codec = media::Codec::kOpus;
    audio.payload_type = 111;
    audio.clock_rate = 48000;
    audio.mline = 1;
    plan.media = {video, audio};
    std::filesystem::path description =
        options.presets_dir /
        (transcode ? "rtmp-pull-transcode-webrtc-fanout.json" : "rtmp-pull-webrtc-fanout.json");
    std::string error;
    if (!media.add_source_stream(name, description, {{"url", pull_url(name)}}, plan, &error)) {
      log.error("rtmp-stream-failed", {{"stream", name}, {"error", error}});
      return;
    }
    ours.insert(name);
    log.info("rtmp-stream",
             {{"stream", name}, {"video", transcode ? "transcoded" : "passthrough"}});
  }

  void publish_done(const std::string &name) {
    probes.erase(name);
    if (ours.erase(name)) {
      media.end_stream(name, "the RTMP publisher left");
    }
  }

  void stop() {
    stopping = true;
    restart_timer.reset();
    probe_timer.reset();
    probes.clear();
    if (child_watch) {
      g_source_remove(child_watch);
      child_watch = 0;
    }
    if (pid > 0) {
      kill(pid, SIGTERM);
      // nginx quits at once on SIGTERM; a bounded wait, then SIGKILL.
      for (int i = 0; i < 50; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          g_spawn_close_pid(pid);
          pid = 0;
          break;
        }
        g_usleep(20 * 1000);
      }
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        g_spawn_close_pid(pid);
        pid = 0;
      }
    }
    if (own_dir) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      own_dir = false;
    }
  }
};

RtmpIngest::RtmpIngest(const Config &config, media::MediaService &media, Logger &log,
                       IngestOptions options)
    : impl_(std::make_unique<Impl>(config, media, log, std::move(options))) {}

RtmpIngest::~RtmpIngest() {
  impl_->stop();
}

bool RtmpIngest::start(SoupServer *server, std::string *error) {
  Impl &s = *impl_;
  if (!g_file_test(kModule, G_FILE_TEST_EXISTS)) {
    *error = std::string("RTMP ingest needs nginx's RTMP module (") + kModule +
             "; Debian packages nginx-light and libnginx-mod-rtmp)";
    return false;
  }
  if (s.options.runtime_dir.empty()) {
    char pattern[] = "/tmp/livepipe-rtmp-XXXXXX";
    if (!mkdtemp(pattern)) {
      *error = "cannot create a directory for nginx under /tmp";
      return false;
    }
    s.dir = pattern;
    s.own_dir = true;
  } else {
    s.dir = s.options.runtime_dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(s.dir / "logs", ec);
  std::string hook_base = s.options.http_base + "/rtmp/hook/" + s.secret;
  std::ofstream(s.dir / "nginx.conf") << nginx_config(s.options, s.dir, hook_base);
  soup_server_add_handler(server, "/rtmp/hook", Impl::handle, impl_.get(), nullptr);
  s.probe_timer = add_timeout(g_main_context_get_thread_default(), 100, [&s] {
    s.check_probes();
    return true;
  });
  return s.spawn(error);
}

void RtmpIngest::stop() {
  impl_->stop();
}

}  // namespace livepipe::signaling::rtmp
