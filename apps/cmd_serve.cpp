// `livepipe serve`: the signaling service and its web page.
#include "commands.h"

#include "config.h"
#include "log.h"
#include "recording_service.h"
#include "server.h"
#include "ingest.h"
#include "lite_viewer.h"
#include "moderation.h"
#include "notifier.h"
#include "restreams.h"
#include "service.h"

#include "cli.h"

#include <glib-unix.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unistd.h>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe serve [--config FILE] [--listen IP:PORT] [--log-json]\n"
               "\n"
               "Runs the signaling service: rooms over WebSocket (/ws, and /ws/gst for\n"
               "GStreamer's webrtc examples), the web page at /, /healthz, /metrics and the\n"
               "admin API under /api/v1, WHIP ingest at /whip/{stream} and WHEP playback at\n"
               "/whep/{stream}. Defaults: 127.0.0.1:8080, no TLS, no tokens.\n"
               "\n"
               "  --config FILE      JSON configuration (docs/configuration.md)\n"
               "  --listen IP:PORT   listen address, overrides the config (port 0: any free)\n"
               "  --log-json         log one JSON object per line instead of text\n"
               "  --rtmp-listen IP:PORT  take RTMP publishers there through a supervised\n"
               "                     nginx-rtmp (docs/rtmp.md), overrides the config\n"
               "\n"
               "SIGINT or SIGTERM tells every peer, closes the sockets and exits with 0.\n"
               "Exit status: 0 stopped, 1 runtime error (e.g. address in use), 2 invalid\n"
               "arguments or configuration.\n");
}

// Each WebSocket is a file descriptor; the default soft limit (often 1024)
// would cap the server long before memory does.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

gboolean on_signal(gpointer data) {
  auto *stop = static_cast<std::function<void()> *>(data);
  (*stop)();
  return G_SOURCE_CONTINUE;
}

}  // namespace

int cmd_serve(int argc, char **argv) {
  std::string config_path;
  std::string listen;
  std::string rtmp_listen;
  bool log_json = false;
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    auto value = [&](const char *name) -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "livepipe serve: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    if (!std::strcmp(arg, "--config")) {
      const char *v = value(arg);
      if (!v) {
        return kExitInvalid;
      }
      config_path = v;
    } else if (!std::strcmp(arg, "--listen")) {
      const char *v = value(arg);
      if (!v) {
        return kExitInvalid;
      }
      listen = v;
    } else if (!std::strcmp(arg, "--rtmp-listen")) {
      const char *v = value(arg);
      if (!v) {
        return kExitInvalid;
      }
      rtmp_listen = v;
    } else if (!std::strcmp(arg, "--log-json")) {
      log_json = true;
    } else if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
      print_usage(stdout);
      return kExitOk;
    } else {
      std::fprintf(stderr, "livepipe serve: unknown argument %s\n\n", arg);
      print_usage(stderr);
      return kExitInvalid;
    }
  }

  // The stream descriptions and the rules' params are checked with the rest.
  auto check_media = [](const signaling::MediaSettings &media) {
    return signaling::media::check_media_descriptions(media, presets_dir());
  };
  signaling::ConfigResult loaded = config_path.empty()
                                       ? signaling::parse_config("{}", check_media)
                                       : signaling::load_config_file(config_path, check_media);
  if (auto *problems = std::get_if<std::vector<std::string>>(&loaded)) {
    std::fprintf(stderr, "livepipe serve: invalid configuration %s:\n", config_path.c_str());
    for (const auto &problem : *problems) {
      std::fprintf(stderr, "  %s\n", problem.c_str());
    }
    return kExitInvalid;
  }
  signaling::Config config = std::get<signaling::Config>(std::move(loaded));
  if (!listen.empty() && !signaling::parse_listen(listen, &config.host, &config.port)) {
    std::fprintf(stderr, "livepipe serve: --listen %s is not IP:PORT (e.g. 127.0.0.1:8080)\n",
                 listen.c_str());
    return kExitInvalid;
  }

  if (!rtmp_listen.empty() &&
      !signaling::parse_listen(rtmp_listen, &config.rtmp.listen_host, &config.rtmp.listen_port)) {
    std::fprintf(stderr, "livepipe serve: --rtmp-listen %s is not IP:PORT (e.g. 127.0.0.1:1935)\n",
                 rtmp_listen.c_str());
    return kExitInvalid;
  }

  raise_fd_limit();
  signaling::Logger log(log_json);
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  int status = kExitOk;
  {
    const signaling::Config media_config = config;
    signaling::Server server(std::move(config), log);
    std::string error;
    if (!server.start(&error)) {
      log.error("start-failed", {{"error", error}});
      g_main_loop_unref(loop);
      return kExitRuntime;
    }
    // WHIP/WHEP streams: the configured description is a preset name or a file.
    signaling::media::MediaOptions media;
    media.description =
        signaling::media::resolve_description(media_config.media.description, presets_dir());
    media.beauty_description =
        signaling::media::resolve_description(media_config.media.beauty_description, presets_dir());
    for (const auto &rule : media_config.media.rules) {
      media.rules.push_back({rule.match,
                             signaling::media::resolve_description(rule.description, presets_dir()),
                             rule.params});
    }
    media.include_dirs = {presets_dir()};
    media.idle_timeout_seconds = media_config.media.idle_timeout_seconds;
    media.max_streams = media_config.media.max_streams;
    media.max_viewers_per_stream = media_config.media.max_viewers_per_stream;
    media.ice_addresses = media_config.media.ice_addresses;
    const signaling::ModerationSettings &moderation = media_config.moderation;
    media.moderated_description =
        signaling::media::resolve_description(moderation.description, presets_dir());
    media.moderation_params = {{"moderation-hook", moderation.hook_uri},
                               {"moderation-token", moderation.auth_token},
                               {"moderation-interval", std::to_string(moderation.interval_ms)},
                               {"moderation-timeout", std::to_string(moderation.timeout_ms)},
                               {"moderation-on-error", moderation.on_error},
                               {"moderation-max-size", std::to_string(moderation.max_size)}};
    // Notifications (hooks.onPublishDone, onRecordDone, onModeration); it
    // outlives the streams, whose end it reports.
    signaling::media::Notifier notifier(media_config.hooks.timeout_ms,
                                        media_config.hooks.notify_attempts,
                                        media_config.hooks.notify_backoff_ms, log);
    server.add_metrics([&notifier] { return notifier.metrics(); });
    // Viewers: all on one UDP port through the fan-out engine, or one
    // webrtcbin each (media.viewerTransport).
    std::unique_ptr<signaling::media::ViewerTransportFactory> viewers;
    if (media_config.media.viewer_transport == "shared") {
      signaling::fanout::EngineOptions fanout;
      fanout.port = static_cast<uint16_t>(media_config.media.udp_port);
      fanout.addresses = media_config.media.ice_addresses;
      fanout.announce = media_config.media.announce_addresses;
      auto engine = signaling::fanout::Engine::start(fanout, &error);
      if (!engine) {
        log.error("start-failed", {{"error", "viewer transport: " + error}});
        g_main_loop_unref(loop);
        return kExitRuntime;
      }
      std::string candidates;
      for (const auto &candidate : engine->candidates()) {
        candidates += (candidates.empty() ? "" : ", ") + candidate;
      }
      log.info("viewer-transport", {{"kind", "shared"},
                                    {"port", std::to_string(engine->port())},
                                    {"candidates", candidates}});
      viewers = std::make_unique<signaling::fanout::SharedSocketViewerFactory>(std::move(engine));
    }
    signaling::media::MediaService streams(media_config, media, log, std::move(viewers));
    signaling::media::notify_publish_done(streams, notifier, media_config.hooks.on_publish_done);
    signaling::media::ModerationService moderated(media_config, streams, notifier, log);
    streams.install(server.soup_server());
    server.add_admin_route(
        [&streams](SoupServerMessage *msg, const std::string &method, const std::string &path,
                   GHashTable *) { return streams.handle_admin(msg, method, path); });
    moderated.install(server);
    server.set_media_sessions(&streams);
    server.add_metrics([&streams] { return streams.metrics(); });
    // Recordings and replay jobs (recording.dir in the config).
    signaling::recording::RecordingService recordings(media_config.recording, streams, log,
                                                      presets_dir());
    if (!recordings.open(&error)) {
      log.error("start-failed", {{"error", error}});
      g_main_loop_unref(loop);
      return kExitRuntime;
    }
    recordings.install(server);
    if (!media_config.hooks.on_record_done.empty()) {
      recordings.on_recording_done(
          [&notifier, &media_config](const signaling::recording::RecordingRow &row) {
            notifier.send(media_config.hooks.on_record_done, "record_done",
                          signaling::recording::record_done_event(row));
          });
    }
    signaling::rtmp::RtmpService restreams(media_config, streams, log);
    restreams.install(server);
    std::unique_ptr<signaling::rtmp::RtmpIngest> ingest;
    if (media_config.rtmp.listen_port > 0) {
      signaling::rtmp::IngestOptions options;
      options.host = media_config.rtmp.listen_host;
      options.port = media_config.rtmp.listen_port;
      std::string http_host = media_config.host == "0.0.0.0" || media_config.host == "::"
                                  ? "127.0.0.1"
                                  : media_config.host;
      if (http_host.find(':') != std::string::npos) {
        http_host = "[" + http_host + "]";
      }
      options.http_base = "http://" + http_host + ":" + std::to_string(server.port());
      options.presets_dir = presets_dir();
      options.keys = media_config.rtmp.keys;
      ingest = std::make_unique<signaling::rtmp::RtmpIngest>(media_config, streams, log, options);
      if (media_config.tls()) {
        log.error("start-failed",
                  {{"error", "RTMP ingest needs plain HTTP for nginx's callbacks"}});
        g_main_loop_unref(loop);
        return kExitInvalid;
      }
      if (!ingest->start(server.soup_server(), &error)) {
        log.error("start-failed", {{"error", error}});
        g_main_loop_unref(loop);
        return kExitRuntime;
      }
    }
    std::printf("livepipe: serving %s\n", server.url().c_str());
    std::fflush(stdout);
    std::function<void()> stop = [&] {
      if (ingest) {
        ingest->stop();
      }
      recordings.shutdown([&] {
        streams.end_all("server shutting down");
        server.shutdown([loop] { g_main_loop_quit(loop); });
      });
    };
    guint sigint = g_unix_signal_add(SIGINT, on_signal, &stop);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &stop);
    g_main_loop_run(loop);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    server.set_media_sessions(nullptr);
  }
  g_main_loop_unref(loop);
  return status;
}

}  // namespace livepipe::apps
