// lpmoderator and lpmoderatoraudio in live pipelines against real hooks: a
// libsoup webhook on 127.0.0.1 (free port) answering a scripted sequence,
// commands run from a temporary directory, and the in-process signal hook.
#define BOOST_TEST_MODULE lpmoderator
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"

#include <gst/app/app.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <thread>
#include <vector>

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

gint64 now_ms() {
  return g_get_monotonic_time() / 1000;
}

// ------------------------------------------------------------ the webhook

struct Reply {
  guint status = 200;
  std::string body;
  guint delay_ms = 0;
};

struct Request {
  std::string body;
  std::string authorization;
  std::string api_key;
  gint64 answered_ms = 0;  // when the reply was handed to libsoup
};

class Webhook {
 public:
  // Replies follow `script`, then `rest` forever.
  Webhook(std::vector<Reply> script, Reply rest)
      : script_(std::move(script)), rest_(std::move(rest)) {
    context_ = g_main_context_new();
    loop_ = g_main_loop_new(context_, FALSE);
    std::mutex m;
    std::condition_variable ready;
    bool started = false;
    thread_ = std::thread([&] {
      g_main_context_push_thread_default(context_);
      server_ = soup_server_new("server-header", "test-hook", nullptr);
      soup_server_add_handler(server_, "/hook", handle, this, nullptr);
      GError *error = nullptr;
      if (soup_server_listen_local(server_, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error)) {
        GSList *uris = soup_server_get_uris(server_);
        url_ = std::string("http://127.0.0.1:") +
               std::to_string(g_uri_get_port(static_cast<GUri *>(uris->data))) + "/hook";
        g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
      } else {
        g_clear_error(&error);
      }
      {
        std::lock_guard lock(m);
        started = true;
      }
      ready.notify_one();
      g_main_loop_run(loop_);
      for (GSource *source : delayed_) {
        g_source_destroy(source);
        g_source_unref(source);
      }
      soup_server_disconnect(server_);
      g_object_unref(server_);
      while (g_main_context_iteration(context_, FALSE)) {
      }
      g_main_context_pop_thread_default(context_);
    });
    std::unique_lock lock(m);
    ready.wait(lock, [&] { return started; });
    BOOST_REQUIRE_MESSAGE(!url_.empty(), "the test webhook could not listen on 127.0.0.1");
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
  std::vector<Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  static void handle(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
                     gpointer data) {
    auto *self = static_cast<Webhook *>(data);
    Request request;
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    GBytes *bytes = soup_message_body_flatten(body);
    gsize size = 0;
    const auto *text = static_cast<const char *>(g_bytes_get_data(bytes, &size));
    request.body.assign(text ? text : "", size);
    g_bytes_unref(bytes);
    SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
    const char *auth = soup_message_headers_get_one(headers, "Authorization");
    const char *key = soup_message_headers_get_one(headers, "X-Api-Key");
    request.authorization = auth ? auth : "";
    request.api_key = key ? key : "";
    Reply reply;
    size_t index;
    {
      std::lock_guard lock(self->mutex_);
      index = self->requests_.size();
      reply = index < self->script_.size() ? self->script_[index] : self->rest_;
      request.answered_ms = now_ms() + reply.delay_ms;
      self->requests_.push_back(request);
    }
    soup_server_message_set_status(msg, reply.status, nullptr);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, reply.body.data(),
                                     reply.body.size());
    if (reply.delay_ms) {
      soup_server_message_pause(msg);
      GSource *source = g_timeout_source_new(reply.delay_ms);
      g_source_set_callback(
          source,
          [](gpointer m) -> gboolean {
            soup_server_message_unpause(static_cast<SoupServerMessage *>(m));
            return G_SOURCE_REMOVE;
          },
          g_object_ref(msg), g_object_unref);
      g_source_attach(source, self->context_);
      self->delayed_.push_back(source);
    }
  }

  std::vector<Reply> script_;
  Reply rest_;
  GMainContext *context_;
  GMainLoop *loop_;
  SoupServer *server_ = nullptr;
  std::vector<GSource *> delayed_;  // webhook thread only
  std::thread thread_;
  std::string url_;
  std::mutex mutex_;
  std::vector<Request> requests_;
};

// ------------------------------------------------------------ the pipeline

enum class Look { Clean, Blurred, Black };

const char *look_name(Look look) {
  return look == Look::Clean ? "clean" : look == Look::Blurred ? "blurred" : "black";
}

// The source is videotestsrc's snow (independent noise per pixel): pixelation
// makes neighbours equal, blocking makes nearly every pixel luma 16.
Look classify(GstSample *sample) {
  GstVideoInfo info;
  gst_video_info_from_caps(&info, gst_sample_get_caps(sample));
  GstVideoFrame frame;
  BOOST_REQUIRE(gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ));
  const int w = GST_VIDEO_FRAME_WIDTH(&frame), h = GST_VIDEO_FRAME_HEIGHT(&frame);
  long black = 0, equal = 0;
  for (int y = 0; y < h; ++y) {
    const auto *row = static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)) +
                      y * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
    for (int x = 0; x < w; ++x) {
      black += row[x] == 16;
      equal += x > 0 && row[x] == row[x - 1];
    }
  }
  gst_video_frame_unmap(&frame);
  if (black > w * h * 9 / 10) {
    return Look::Black;
  }
  return equal > w * h * 7 / 10 ? Look::Blurred : Look::Clean;
}

struct Frame {
  Look look;
  gint64 at_ms;
};

struct BusRecord {
  std::string type;  // "moderation", "warning", "error", "eos"
  std::string text;  // the warning/error message, or the structure
  std::string verdict, reason, source;
  gint64 at_ms = 0;
};

class Run {
 public:
  explicit Run(const std::string &moderator_props, const std::string &extra_branch = "",
               const char *format = "I420") {
    const std::string description =
        std::string("videotestsrc is-live=true pattern=snow ! video/x-raw,format=") + format +
        ",width=320,height=240,framerate=30/1 ! lpmoderator name=mod " + moderator_props +
        " ! appsink name=out sync=false max-buffers=300 " + extra_branch;
    GError *error = nullptr;
    pipeline_ = gst_parse_launch(description.c_str(), &error);
    BOOST_REQUIRE_MESSAGE(pipeline_, description << ": " << (error ? error->message : ""));
    g_clear_error(&error);
    moderator_ = gst_bin_get_by_name(GST_BIN(pipeline_), "mod");
    sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "out");
    GstBus *bus = gst_element_get_bus(pipeline_);
    gst_bus_set_sync_handler(bus, on_message, this, nullptr);
    gst_object_unref(bus);
  }
  ~Run() {
    stop();
    GstBus *bus = gst_element_get_bus(pipeline_);
    gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
    gst_object_unref(bus);
    gst_object_unref(moderator_);
    gst_object_unref(sink_);
    gst_object_unref(pipeline_);
  }
  GstStateChangeReturn play() { return gst_element_set_state(pipeline_, GST_STATE_PLAYING); }
  // Returns how long stopping took.
  gint64 stop() {
    const gint64 start = now_ms();
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    return now_ms() - start;
  }
  GstElement *moderator() { return moderator_; }
  GstElement *pipeline() { return pipeline_; }

  // Pulls frames for `duration_ms`, classifying each.
  std::vector<Frame> pull_for(gint64 duration_ms,
                              const std::function<void(const Frame &)> &each = {}) {
    std::vector<Frame> frames;
    const gint64 end = now_ms() + duration_ms;
    while (now_ms() < end) {
      GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink_), 100 * GST_MSECOND);
      if (!sample) {
        if (gst_app_sink_is_eos(GST_APP_SINK(sink_))) {
          break;
        }
        continue;
      }
      frames.push_back(Frame{classify(sample), now_ms()});
      gst_sample_unref(sample);
      if (each) {
        each(frames.back());
      }
    }
    return frames;
  }
  std::vector<BusRecord> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }
  std::vector<BusRecord> records_of(const std::string &type) {
    std::vector<BusRecord> out;
    for (auto &r : records()) {
      if (r.type == type) {
        out.push_back(r);
      }
    }
    return out;
  }
  guint64 counter(const char *name) {
    guint64 value = 0;
    g_object_get(moderator_, name, &value, nullptr);
    return value;
  }

 private:
  static GstBusSyncReply on_message(GstBus *, GstMessage *message, gpointer data) {
    auto *self = static_cast<Run *>(data);
    BusRecord record;
    record.at_ms = now_ms();
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(message);
        if (!gst_structure_has_name(s, "livepipe-moderation")) {
          return GST_BUS_DROP;
        }
        record.type = "moderation";
        record.verdict = gst_structure_get_string(s, "verdict");
        record.reason = gst_structure_get_string(s, "reason");
        record.source = gst_structure_get_string(s, "source");
        gchar *text = gst_structure_to_string(s);
        record.text = text;
        g_free(text);
        break;
      }
      case GST_MESSAGE_WARNING:
      case GST_MESSAGE_ERROR: {
        GError *error = nullptr;
        gchar *debug = nullptr;
        if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) {
          gst_message_parse_warning(message, &error, &debug);
          record.type = "warning";
        } else {
          gst_message_parse_error(message, &error, &debug);
          record.type = "error";
        }
        record.text = error->message;
        g_clear_error(&error);
        g_free(debug);
        break;
      }
      case GST_MESSAGE_EOS:
        record.type = "eos";
        break;
      default:
        return GST_BUS_DROP;
    }
    std::lock_guard lock(self->mutex_);
    self->records_.push_back(std::move(record));
    return GST_BUS_DROP;
  }

  GstElement *pipeline_;
  GstElement *moderator_;
  GstElement *sink_;
  std::mutex mutex_;
  std::vector<BusRecord> records_;
};

// First frame at or after `from_ms` that looks like `look`; -1 if none.
gint64 first_look(const std::vector<Frame> &frames, Look look, gint64 from_ms = 0) {
  for (const Frame &f : frames) {
    if (f.at_ms >= from_ms && f.look == look) {
      return f.at_ms;
    }
  }
  return -1;
}

std::string summary(const std::vector<Frame> &frames) {
  std::string out;
  Look last = Look::Clean;
  int count = 0;
  for (size_t i = 0; i <= frames.size(); ++i) {
    if (i == frames.size() || (i > 0 && frames[i].look != last)) {
      out += std::string(look_name(last)) + "x" + std::to_string(count) + " ";
      count = 0;
    }
    if (i < frames.size()) {
      last = frames[i].look;
      ++count;
    }
  }
  return out;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

// A temporary directory for hook commands, removed with its files.
class ScriptDir {
 public:
  ScriptDir() {
    char tmpl[] = "/tmp/lpmoderator-test-XXXXXX";
    path_ = g_mkdtemp(tmpl);
  }
  ~ScriptDir() {
    for (const auto &file : files_) {
      std::remove(file.c_str());
    }
    rmdir(path_.c_str());
  }
  std::string add(const std::string &name, const std::string &body) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << "#!/bin/sh\n" << body << "\n";
    chmod(file.c_str(), 0755);
    files_.push_back(file);
    return file;
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

constexpr const char *kAllow = R"({"verdict":"allow","reason":"ok"})";
constexpr const char *kBlur = R"({"verdict":"blur","reason":"face"})";
constexpr const char *kBlock = R"({"verdict":"block","reason":"nudity"})";

}  // namespace

BOOST_AUTO_TEST_CASE(webhook_verdicts_change_frames_within_an_interval) {
  const gint64 interval = 200;
  Webhook hook({{200, kBlur}, {200, kBlur}, {200, kBlock}, {200, kBlock}}, {200, kAllow});
  Run run("hook-uri=" + hook.url() +
          " interval=200 timeout=1000 stream-id=cam1 max-size=160 "
          "auth-token=s3cret extra-headers=\"h,X-Api-Key=(string)k1\"");
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  auto frames = run.pull_for(1700);
  BOOST_TEST_MESSAGE("frames: " << summary(frames));
  auto requests = hook.requests();
  BOOST_REQUIRE_GE(requests.size(), 6u);

  // Every change shows up no later than one interval after the hook answered
  // (the verdict applies to the next frame; the margin covers a loaded CI).
  const gint64 margin = 150;
  const gint64 blurred = first_look(frames, Look::Blurred, requests[0].answered_ms);
  const gint64 black = first_look(frames, Look::Black, requests[2].answered_ms);
  const gint64 clean = first_look(frames, Look::Clean, requests[4].answered_ms);
  BOOST_REQUIRE_GE(blurred, 0);
  BOOST_REQUIRE_GE(black, 0);
  BOOST_REQUIRE_GE(clean, 0);
  BOOST_CHECK_LE(blurred - requests[0].answered_ms, interval + margin);
  BOOST_CHECK_LE(black - requests[2].answered_ms, interval + margin);
  BOOST_CHECK_LE(clean - requests[4].answered_ms, interval + margin);
  BOOST_CHECK(frames.back().look == Look::Clean);
  BOOST_CHECK(first_look(frames, Look::Blurred, clean) < 0);

  // The request carries the stream, sequence and a JPEG no larger than max-size.
  JsonParser *parser = json_parser_new();
  BOOST_REQUIRE(json_parser_load_from_data(parser, requests[1].body.c_str(), -1, nullptr));
  JsonObject *body = json_node_get_object(json_parser_get_root(parser));
  BOOST_CHECK_EQUAL(json_object_get_string_member(body, "stream_id"), "cam1");
  BOOST_CHECK_EQUAL(json_object_get_int_member(body, "sequence"), 2);
  BOOST_CHECK_EQUAL(json_object_get_int_member(body, "width"), 160);
  BOOST_CHECK_EQUAL(json_object_get_int_member(body, "height"), 120);
  BOOST_CHECK_GT(json_object_get_int_member(body, "timestamp_ms"), 1600000000000);
  gsize jpeg_size = 0;
  guchar *jpeg = g_base64_decode(json_object_get_string_member(body, "image"), &jpeg_size);
  BOOST_REQUIRE_GT(jpeg_size, 100u);
  BOOST_CHECK(jpeg[0] == 0xFF && jpeg[1] == 0xD8);  // JPEG SOI
  g_free(jpeg);
  g_object_unref(parser);
  BOOST_CHECK_EQUAL(requests[0].authorization, "Bearer s3cret");
  BOOST_CHECK_EQUAL(requests[0].api_key, "k1");

  // Each verdict is on the bus with the hook's reason.
  auto messages = run.records_of("moderation");
  BOOST_REQUIRE_GE(messages.size(), 5u);
  BOOST_CHECK_EQUAL(messages[0].verdict, "blur");
  BOOST_CHECK_EQUAL(messages[0].reason, "face");
  BOOST_CHECK_EQUAL(messages[0].source, "hook");
  BOOST_CHECK(contains(messages[0].text, "stream-id=(string)cam1"));
  BOOST_CHECK_EQUAL(messages[2].verdict, "block");
  BOOST_CHECK_EQUAL(messages[2].reason, "nudity");
  BOOST_CHECK_EQUAL(messages[4].verdict, "allow");
  BOOST_CHECK(run.records_of("warning").empty());
  BOOST_CHECK_EQUAL(run.counter("hook-errors"), 0u);
}

BOOST_AUTO_TEST_CASE(slow_webhook_skips_snapshots_and_times_out) {
  Webhook hook({}, {200, kAllow, 5000});
  Run run("hook-uri=" + hook.url() + " interval=100 timeout=300 on-error=fail-closed");
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  const gint64 start = now_ms();
  auto frames = run.pull_for(1500);
  // Frames keep coming at the input rate (30 fps) whatever the hook does.
  BOOST_CHECK_GE(frames.size(), 36u);
  BOOST_CHECK_GT(run.counter("snapshots-skipped"), 3u);
  BOOST_CHECK_GE(run.counter("hook-errors"), 2u);
  BOOST_CHECK_EQUAL(run.counter("verdicts-received"), 0u);
  // fail-closed: blocked once the first request timed out, not before.
  const gint64 black = first_look(frames, Look::Black);
  BOOST_REQUIRE_GE(black, 0);
  BOOST_CHECK_GE(black - start, 250);
  BOOST_CHECK(frames.back().look == Look::Black);
  // One warning for the burst of timeouts, with the reason.
  auto warnings = run.records_of("warning");
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_CHECK(contains(warnings[0].text, "within 300 ms"));
  auto messages = run.records_of("moderation");
  BOOST_REQUIRE(!messages.empty());
  BOOST_CHECK_EQUAL(messages[0].verdict, "block");
  BOOST_CHECK_EQUAL(messages[0].source, "error");
  BOOST_CHECK_LT(run.stop(), 1500);  // pending requests are cancelled, not awaited
}

BOOST_AUTO_TEST_CASE(bad_webhook_replies_get_the_policy_and_a_clear_warning) {
  struct Case {
    Reply reply;
    const char *expected;
  };
  std::string oversized = R"({"verdict":"allow","pad":")" + std::string(100 * 1024, ' ') + "\"}";
  const Case cases[] = {
      {{200, "<html>garbage"}, "invalid JSON"},           {{200, ""}, "empty reply"},
      {{200, oversized}, "larger than 65536 bytes"},      {{500, kBlock}, "answered 500"},
      {{200, R"({"verdict":"ban"})"}, "unknown verdict"},
  };
  for (const Case &c : cases) {
    for (const char *policy : {"fail-closed", "fail-open"}) {
      BOOST_TEST_CONTEXT(c.expected << ", " << policy) {
        Webhook hook({}, c.reply);
        Run run("hook-uri=" + hook.url() + " interval=100 timeout=1000 on-error=" + policy);
        BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
        auto frames = run.pull_for(450);
        BOOST_CHECK_GE(frames.size(), 9u);
        BOOST_CHECK_GE(run.counter("hook-errors"), 1u);
        auto warnings = run.records_of("warning");
        BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
        BOOST_CHECK_MESSAGE(contains(warnings[0].text, c.expected), warnings[0].text);
        const Look expected = std::string(policy) == "fail-closed" ? Look::Black : Look::Clean;
        BOOST_CHECK(frames.back().look == expected);
        if (expected == Look::Clean) {
          BOOST_CHECK(first_look(frames, Look::Black) < 0);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(command_hooks_answer_crash_and_hang) {
  ScriptDir dir;
  // Reads the JPEG from stdin and answers from what it got.
  const std::string good =
      dir.add("good.sh",
              "magic=$(head -c 2 | od -An -tx1 | tr -d ' ')\n"
              "if [ \"$magic\" = ffd8 ] && [ \"$LIVEPIPE_STREAM_ID\" = cam2 ]; then\n"
              "  echo '{\"verdict\":\"blur\",\"reason\":\"seq '$LIVEPIPE_SEQUENCE'\"}'\n"
              "else echo '{\"verdict\":\"allow\"}'; fi");
  const std::string crash = dir.add("crash.sh", "kill -SEGV $$");
  const std::string hang = dir.add("hang.sh", "exec sleep 30");
  const std::string failing = dir.add("fail.sh", "echo oops >&2; exit 3");

  {
    Run run("hook-uri=\"exec:" + good + " --flag 'two words'\" interval=100 stream-id=cam2");
    BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
    auto frames = run.pull_for(600);
    BOOST_CHECK(frames.back().look == Look::Blurred);
    auto messages = run.records_of("moderation");
    BOOST_REQUIRE(!messages.empty());
    BOOST_CHECK_EQUAL(messages[0].reason, "seq 1");
  }
  struct Case {
    std::string script;
    const char *expected;
  };
  for (const Case &c :
       {Case{crash, "killed by signal 11"}, Case{hang, "within 300 ms"},
        Case{failing, "exited with status 3"},
        Case{dir.add("missing-exec.sh", "exec /nonexistent/cmd"), "exited with status 127"}}) {
    BOOST_TEST_CONTEXT(c.script) {
      Run run("hook-uri=exec:" + c.script + " interval=100 timeout=300 on-error=fail-closed");
      BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
      auto frames = run.pull_for(700);
      BOOST_CHECK_GE(frames.size(), 15u);
      BOOST_CHECK(frames.back().look == Look::Black);
      auto warnings = run.records_of("warning");
      BOOST_REQUIRE_GE(warnings.size(), 1u);
      BOOST_CHECK_MESSAGE(contains(warnings[0].text, c.expected), warnings[0].text);
      BOOST_CHECK_LT(run.stop(), 1500);
    }
  }
  // The hanging command was killed: no sleep of ours is left.
  gchar *out = nullptr;
  g_spawn_command_line_sync(("pgrep -f " + hang).c_str(), &out, nullptr, nullptr, nullptr);
  BOOST_CHECK_EQUAL(std::string(out ? out : ""), "");
  g_free(out);
}

BOOST_AUTO_TEST_CASE(invalid_hook_uris_fail_to_start_with_a_reason) {
  for (const char *uri : {"ftp://host/x", "exec:relative/cmd", "exec:", "http://"}) {
    BOOST_TEST_CONTEXT(uri) {
      Run run(std::string("hook-uri=\"") + uri + "\"");
      BOOST_CHECK_EQUAL(run.play(), GST_STATE_CHANGE_FAILURE);
      auto errors = run.records_of("error");
      BOOST_REQUIRE_EQUAL(errors.size(), 1u);
      BOOST_CHECK(contains(errors[0].text, "Invalid moderation hook"));
    }
  }
}

BOOST_AUTO_TEST_CASE(signal_hook_answers_in_process) {
  Run run("interval=100 timeout=2000", "", "NV12");
  struct Hook {
    std::mutex mutex;
    std::vector<guint64> sequences;
    std::atomic<bool> answer_inline{true};
    std::atomic<int> jpeg_ok{0};
  } hook;
  g_signal_connect(
      run.moderator(), "snapshot",
      G_CALLBACK(+[](GstElement *mod, GBytes *jpeg, guint64 sequence, GstStructure *info, Hook *h) {
        gsize size = 0;
        const auto *data = static_cast<const guint8 *>(g_bytes_get_data(jpeg, &size));
        int width = 0;
        gst_structure_get_int(info, "width", &width);
        if (size > 2 && data[0] == 0xFF && data[1] == 0xD8 && width == 320) {
          h->jpeg_ok++;
        }
        if (h->answer_inline) {
          gboolean accepted = FALSE;
          g_signal_emit_by_name(mod, "submit-verdict", sequence, kBlock, &accepted);
          BOOST_CHECK(accepted);
        } else {
          std::lock_guard lock(h->mutex);
          h->sequences.push_back(sequence);
        }
      }),
      &hook);
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  auto frames = run.pull_for(500);
  BOOST_CHECK(frames.back().look == Look::Black);
  BOOST_CHECK_GT(hook.jpeg_ok.load(), 1);

  // Later answers come from another thread, after the signal returned.
  hook.answer_inline = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  guint64 sequence;
  {
    std::lock_guard lock(hook.mutex);
    BOOST_REQUIRE(!hook.sequences.empty());
    sequence = hook.sequences.back();
  }
  gboolean accepted = FALSE;
  g_signal_emit_by_name(run.moderator(), "submit-verdict", sequence, kAllow, &accepted);
  BOOST_CHECK(accepted);
  g_signal_emit_by_name(run.moderator(), "submit-verdict", sequence, kAllow, &accepted);
  BOOST_CHECK(!accepted);  // answered already
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{999999}, kAllow, &accepted);
  BOOST_CHECK(!accepted);  // never asked
  frames = run.pull_for(300);
  BOOST_CHECK(frames.back().look == Look::Clean);
  auto messages = run.records_of("moderation");
  BOOST_REQUIRE(!messages.empty());
  BOOST_CHECK_EQUAL(messages[0].source, "signal");
  BOOST_CHECK_EQUAL(messages.back().verdict, "allow");
}

BOOST_AUTO_TEST_CASE(verdicts_expire_back_to_allow) {
  Run run("interval=100");  // no hook connected: only forced verdicts
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  run.pull_for(200);
  gboolean accepted = FALSE;
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0}, "not json", &accepted);
  BOOST_CHECK(!accepted);
  const gint64 forced = now_ms();
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0},
                        R"({"verdict":"blur","regions":[{"x":0,"y":0,"w":320,"h":240}],)"
                        R"("expires_ms":400})",
                        &accepted);
  BOOST_REQUIRE(accepted);
  auto frames = run.pull_for(900);
  BOOST_TEST_MESSAGE("frames: " << summary(frames));
  const gint64 blurred = first_look(frames, Look::Blurred);
  const gint64 clean_again = first_look(frames, Look::Clean, blurred);
  BOOST_REQUIRE_GE(blurred, 0);
  BOOST_REQUIRE_GE(clean_again, 0);
  BOOST_CHECK_GE(clean_again - forced, 350);
  BOOST_CHECK_LE(clean_again - forced, 600);
  auto messages = run.records_of("moderation");
  BOOST_REQUIRE_EQUAL(messages.size(), 2u);
  BOOST_CHECK_EQUAL(messages[0].source, "forced");
  BOOST_CHECK_EQUAL(messages[1].source, "expired");
  BOOST_CHECK_EQUAL(messages[1].verdict, "allow");
  BOOST_CHECK_EQUAL(run.counter("snapshots-taken"), 0u);
}

// An operator's forced verdict (forced-holds=true) wins over the hook's
// answers until it is released; then the hook decides again.
BOOST_AUTO_TEST_CASE(forced_verdicts_hold_against_the_hook_until_released) {
  Webhook hook({}, {200, kAllow});
  Run run("hook-uri=" + hook.url() + " interval=100 timeout=1000 forced-holds=true");
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  run.pull_for(300);
  gboolean accepted = FALSE;
  g_signal_emit_by_name(run.moderator(), "release-forced", &accepted);
  BOOST_CHECK(!accepted);  // nothing forced yet
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0}, kBlock, &accepted);
  BOOST_REQUIRE(accepted);
  const size_t before = hook.requests().size();
  auto frames = run.pull_for(800);
  BOOST_TEST_MESSAGE("frames: " << summary(frames));
  // The hook kept answering allow, every 100 ms, and the frames stayed black.
  BOOST_CHECK_GE(hook.requests().size(), before + 4);
  const gint64 black = first_look(frames, Look::Black);
  BOOST_REQUIRE_GE(black, 0);
  BOOST_CHECK(first_look(frames, Look::Clean, black) < 0);
  gchar *verdict = nullptr;
  g_object_get(run.moderator(), "verdict", &verdict, nullptr);
  BOOST_CHECK_EQUAL(verdict, "block");
  g_free(verdict);

  g_signal_emit_by_name(run.moderator(), "release-forced", &accepted);
  BOOST_CHECK(accepted);
  frames = run.pull_for(300);
  BOOST_CHECK(frames.back().look == Look::Clean);
  // The hook's allows before the forced block are on the bus; none between
  // the block and its release.
  auto messages = run.records_of("moderation");
  auto forced = std::find_if(messages.begin(), messages.end(),
                             [](const BusRecord &m) { return m.source == "forced"; });
  BOOST_REQUIRE(forced != messages.end());
  BOOST_CHECK_EQUAL(forced->verdict, "block");
  BOOST_REQUIRE(forced + 1 != messages.end());
  // Released to allow; the hook's next allow may replace that before a
  // frame carries it, and only the latest verdict is posted.
  BOOST_CHECK((forced + 1)->source == "released" || (forced + 1)->source == "hook");
  BOOST_CHECK_EQUAL((forced + 1)->verdict, "allow");
}

BOOST_AUTO_TEST_CASE(audio_is_muted_on_block_and_both_branches_end) {
  Run run("interval=100",
          "audiotestsrc is-live=true wave=sine volume=0.5 ! audio/x-raw,format=S16LE,rate=8000 "
          "! lpmoderatoraudio moderator=mod ! appsink name=aout sync=false max-buffers=1000");
  GstElement *aout = gst_bin_get_by_name(GST_BIN(run.pipeline()), "aout");
  auto audio_peak = [&](gint64 ms) {
    int peak = 0;
    const gint64 end = now_ms() + ms;
    while (now_ms() < end) {
      GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(aout), 50 * GST_MSECOND);
      if (!s) {
        continue;
      }
      GstMapInfo map;
      gst_buffer_map(gst_sample_get_buffer(s), &map, GST_MAP_READ);
      const auto *pcm = reinterpret_cast<const int16_t *>(map.data);
      for (gsize i = 0; i < map.size / 2; ++i) {
        peak = std::max(peak, std::abs(static_cast<int>(pcm[i])));
      }
      gst_buffer_unmap(gst_sample_get_buffer(s), &map);
      gst_sample_unref(s);
    }
    return peak;
  };
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  std::thread drain([&] { run.pull_for(1200); });
  BOOST_CHECK_GT(audio_peak(200), 10000);
  gboolean accepted = FALSE;
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0}, kBlock, &accepted);
  audio_peak(100);  // buffers already queued before the verdict
  BOOST_CHECK_EQUAL(audio_peak(200), 0);
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0}, kAllow, &accepted);
  audio_peak(100);
  BOOST_CHECK_GT(audio_peak(200), 10000);
  g_signal_emit_by_name(run.moderator(), "submit-verdict", guint64{0},
                        R"({"verdict":"end","reason":"terms"})", &accepted);
  drain.join();
  // Both branches ended, so the pipeline posts EOS.
  const gint64 deadline = now_ms() + 2000;
  while (run.records_of("eos").empty() && now_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_CHECK_EQUAL(run.records_of("eos").size(), 1u);
  auto messages = run.records_of("moderation");
  BOOST_REQUIRE(!messages.empty());
  BOOST_CHECK_EQUAL(messages.back().verdict, "end");
  BOOST_CHECK_EQUAL(messages.back().reason, "terms");
  gst_object_unref(aout);
}

BOOST_AUTO_TEST_CASE(audio_without_its_moderator_is_an_error) {
  Run run("interval=100",
          "audiotestsrc is-live=true ! lpmoderatoraudio moderator=nobody ! fakesink");
  BOOST_REQUIRE_NE(run.play(), GST_STATE_CHANGE_FAILURE);
  const gint64 deadline = now_ms() + 2000;
  while (run.records_of("error").empty() && now_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto errors = run.records_of("error");
  BOOST_REQUIRE(!errors.empty());
  BOOST_CHECK(contains(errors[0].text, "no element named \"nobody\""));
}
