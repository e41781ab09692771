// Cost of lpmoderator on a live 1080p30 stream at one snapshot a second:
// process CPU time of the same pipeline with and without the element, in the
// same run, and the snapshot-to-verdict-applied latency with a local webhook.
//   bench_moderator [--seconds N] [--rounds N]
#include <gst/gst.h>
#include <libsoup/soup.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// A webhook on 127.0.0.1 answering allow, or alternating block/allow.
class Webhook {
 public:
  explicit Webhook(bool alternate) : alternate_(alternate) {
    context_ = g_main_context_new();
    loop_ = g_main_loop_new(context_, FALSE);
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, &ready] {
      g_main_context_push_thread_default(context_);
      SoupServer *server = soup_server_new(nullptr, nullptr);
      soup_server_add_handler(server, "/hook", handle, this, nullptr);
      if (!soup_server_listen_local(server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, nullptr)) {
        std::fprintf(stderr, "cannot listen on 127.0.0.1\n");
        std::exit(1);
      }
      GSList *uris = soup_server_get_uris(server);
      url_ = "http://127.0.0.1:" + std::to_string(g_uri_get_port(static_cast<GUri *>(uris->data))) +
             "/hook";
      g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
      ready = true;
      g_main_loop_run(loop_);
      soup_server_disconnect(server);
      g_object_unref(server);
      g_main_context_pop_thread_default(context_);
    });
    while (!ready) {
      std::this_thread::yield();
    }
  }
  ~Webhook() {
    g_main_context_invoke(
        context_,
        [](gpointer loop) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop *>(loop));
          return G_SOURCE_REMOVE;
        },
        loop_);
    thread_.join();
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
  }
  const std::string &url() const { return url_; }

 private:
  static void handle(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
                     gpointer data) {
    auto *self = static_cast<Webhook *>(data);
    const bool block = self->alternate_ && (self->count_++ % 2 == 0);
    const char *body = block ? R"({"verdict":"block","reason":"bench"})"
                             : R"({"verdict":"allow","reason":"bench"})";
    soup_server_message_set_status(msg, 200, nullptr);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, body,
                                     std::strlen(body));
  }

  bool alternate_;
  unsigned count_ = 0;
  GMainContext *context_;
  GMainLoop *loop_;
  std::thread thread_;
  std::string url_;
};

struct Result {
  double cpu = 0;
  double wall = 0;
  guint64 frames = 0;
  std::vector<double> latencies_ms;
};

Result run(const std::string &middle, double seconds) {
  const std::string description =
      "videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! " +
      middle + " fakesink name=sink sync=true signal-handoffs=true";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    std::fprintf(stderr, "%s: %s\n", description.c_str(), error ? error->message : "");
    std::exit(1);
  }
  Result result;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  std::atomic<guint64> frames{0};
  g_signal_connect(
      sink, "handoff",
      G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, std::atomic<guint64> *n) { ++*n; }),
      &frames);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  gst_element_get_state(pipeline, nullptr, nullptr, 5 * GST_SECOND);
  GstBus *bus = gst_element_get_bus(pipeline);
  const double cpu0 = cpu_seconds();
  const gint64 t0 = g_get_monotonic_time();
  const guint64 frames0 = frames;
  const gint64 end = t0 + static_cast<gint64>(seconds * 1e6);
  while (g_get_monotonic_time() < end) {
    GstMessage *message =
        gst_bus_timed_pop(bus, static_cast<GstClockTime>(end - g_get_monotonic_time()) * 1000);
    if (!message) {
      continue;
    }
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
      std::fprintf(stderr, "pipeline error\n");
      std::exit(1);
    }
    const GstStructure *s = gst_message_get_structure(message);
    double latency = -1;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(s, "livepipe-moderation") &&
        gst_structure_get_double(s, "latency-ms", &latency) && latency >= 0) {
      result.latencies_ms.push_back(latency);
    }
    gst_message_unref(message);
  }
  result.cpu = cpu_seconds() - cpu0;
  result.wall = static_cast<double>(g_get_monotonic_time() - t0) / 1e6;
  result.frames = frames - frames0;
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return result;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return -1;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  double seconds = 10;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) {
      seconds = std::atof(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--rounds")) {
      rounds = std::atoi(argv[i + 1]);
    }
  }

  Webhook allow(false);
  const std::string moderator =
      "lpmoderator hook-uri=" + allow.url() + " interval=1000 timeout=2000 ! ";
  std::printf("1080p30 I420 live, %d rounds of %.0f s each, alternating\n", rounds, seconds);
  std::printf("%-34s %8s %8s %10s\n", "pipeline", "frames", "cpu s", "% of core");
  double base_cpu = 0, base_wall = 0, mod_cpu = 0, mod_wall = 0;
  for (int r = 0; r < rounds; ++r) {
    for (bool with : {false, true}) {
      Result res = run(with ? moderator : "", seconds);
      std::printf("%-34s %8" G_GUINT64_FORMAT " %8.3f %9.2f%%\n",
                  with ? "with lpmoderator (1 snapshot/s)" : "without", res.frames, res.cpu,
                  100.0 * res.cpu / res.wall);
      (with ? mod_cpu : base_cpu) += res.cpu;
      (with ? mod_wall : base_wall) += res.wall;
    }
  }
  const double base = 100.0 * base_cpu / base_wall, with = 100.0 * mod_cpu / mod_wall;
  std::printf(
      "average: without %.2f%% of a core, with %.2f%%: lpmoderator adds %.2f%% of a "
      "core (ratio %.3f)\n",
      base, with, with - base, with / base);

  Webhook alternate(true);
  Result latency =
      run("lpmoderator hook-uri=" + alternate.url() + " interval=1000 timeout=2000 ! ", seconds);
  std::printf(
      "snapshot-to-verdict-applied latency over %zu verdicts (block/allow alternating): "
      "median %.1f ms, p90 %.1f ms, max %.1f ms\n",
      latency.latencies_ms.size(), percentile(latency.latencies_ms, 0.5),
      percentile(latency.latencies_ms, 0.9), percentile(latency.latencies_ms, 1.0));
  return 0;
}
