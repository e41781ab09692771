// Descriptions at run time: dynamic pads linked as they appear, branches
// attached to and detached from slots while PLAYING, and the shipped presets.
#define BOOST_TEST_MODULE pipelines_runtime
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "pipelines/loader_fixture.h"

#include "catalog.h"
#include "loader.h"

#include <gst/gst.h>
#define GST_USE_UNSTABLE_API  // webrtcbin's library is stable in practice; 1.22 still says not
#include <gst/webrtc/webrtc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <memory>

using namespace livepipe;
using namespace livepipe::testing;
using pipelines::LoadOptions;

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

// Counts buffers through a pad.
class Counter {
 public:
  explicit Counter(GstPad *pad) {
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *, gpointer data) -> GstPadProbeReturn {
          ++*static_cast<std::atomic<int> *>(data);
          return GST_PAD_PROBE_OK;
        },
        count_.get(), nullptr);
  }
  int value() const { return *count_; }

 private:
  std::shared_ptr<std::atomic<int>> count_ = std::make_shared<std::atomic<int>>(0);
};

std::unique_ptr<Counter> count_into(GstElement *element, const char *pad_name = "sink") {
  GstPtr<GstPad> pad(gst_element_get_static_pad(element, pad_name));
  BOOST_REQUIRE(pad);
  return std::make_unique<Counter>(pad.get());
}

// Makes `file` with a GStreamer launch line.
void make_file(const std::string &launch) {
  GError *error = nullptr;
  GstPtr<GstElement> pipeline = sink(gst_parse_launch(launch.c_str(), &error));
  BOOST_REQUIRE_MESSAGE(pipeline && !error, (error ? error->message : "parse failed"));
  BOOST_REQUIRE_EQUAL(run_to_end(pipeline.get()), "");
}

GstElement *make_branch(const char *launch) {
  GError *error = nullptr;
  GstElement *bin = gst_parse_bin_from_description(launch, TRUE, &error);
  BOOST_REQUIRE_MESSAGE(bin && !error, (error ? error->message : "parse failed"));
  return bin;
}

pipelines::LoadResult load_preset(const std::string &name, LoadOptions options) {
  pipelines::Loader loader({presets_dir()});
  return loader.load_file(presets_dir() / (name + ".json"), options);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dynamic_pads)

BOOST_AUTO_TEST_CASE(decodebin_pads_are_linked_by_media_type) {
  TempDir dir;
  auto file = dir.path() / "av.mkv";
  make_file(
      "videotestsrc num-buffers=20 ! video/x-raw,width=160,height=120 ! x264enc ! "
      "matroskamux name=mux ! filesink location=" +
      file.string() + " audiotestsrc num-buffers=20 ! audioconvert ! vorbisenc ! mux.");
  auto result = load_text(R"({"name": "t", "summary": "s",
    "params": {"file": {"type": "string", "required": true, "doc": "f"}},
    "elements": [
      {"id": "file", "factory": "filesrc", "properties": {"location": "${file}"}},
      {"id": "decode", "factory": "decodebin"},
      {"id": "video", "factory": "fakesink"},
      {"id": "audio-convert", "factory": "audioconvert"},
      {"id": "audio", "factory": "fakesink"}
    ],
    "links": [
      {"from": "file", "to": "decode"},
      {"from": "decode", "to": "audio-convert", "media": "audio"},
      {"from": "audio-convert", "to": "audio"},
      {"from": "decode", "to": "video", "media": "video", "caps": "video/x-raw"}
    ]})",
                          LoadOptions{.params = {{"file", file.string()}}});
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  auto video = count_into(result.pipeline->find("video"));
  auto audio = count_into(result.pipeline->find("audio"));
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
  BOOST_TEST(video->value() == 20);
  BOOST_TEST(audio->value() > 0);
}

BOOST_AUTO_TEST_CASE(demuxer_pads_are_linked_by_name) {
  TempDir dir;
  auto file = dir.path() / "av.flv";
  make_file(
      "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120 ! x264enc ! "
      "h264parse ! flvmux name=mux ! filesink location=" +
      file.string() + " audiotestsrc num-buffers=15 ! audioconvert ! avenc_aac ! aacparse ! mux.");
  auto result = load_text(R"({"name": "t", "summary": "s",
    "params": {"file": {"type": "string", "required": true, "doc": "f"}},
    "elements": [
      {"id": "file", "factory": "filesrc", "properties": {"location": "${file}"}},
      {"id": "demux", "factory": "flvdemux"},
      {"id": "video-queue", "factory": "queue"},
      {"id": "parse", "factory": "h264parse"},
      {"id": "sink", "factory": "fakesink"},
      {"id": "audio-queue", "factory": "queue"},
      {"id": "audio-parse", "factory": "aacparse"},
      {"id": "audio-sink", "factory": "fakesink"}
    ],
    "links": [
      {"from": "file", "to": "demux"},
      {"from": "demux.audio", "to": "audio-queue"},
      {"from": "audio-queue", "to": "audio-parse"},
      {"from": "audio-parse", "to": "audio-sink"},
      {"from": "demux.video", "to": "video-queue"},
      {"from": "video-queue", "to": "parse"},
      {"from": "parse", "to": "sink"}
    ]})",
                          LoadOptions{.params = {{"file", file.string()}}});
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  auto video = count_into(result.pipeline->find("sink"));
  auto audio = count_into(result.pipeline->find("audio-sink"));
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
  BOOST_TEST(video->value() == 15);
  BOOST_TEST(audio->value() > 0);
}

BOOST_AUTO_TEST_CASE(a_chosen_pad_that_cannot_link_is_a_runtime_error_naming_the_element) {
  TempDir dir;
  auto file = dir.path() / "v.flv";
  make_file(
      "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! x264enc ! h264parse ! "
      "flvmux ! filesink location=" +
      file.string());
  auto result = load_text(R"({"name": "t", "summary": "s",
    "params": {"file": {"type": "string", "required": true, "doc": "f"}},
    "elements": [
      {"id": "file", "factory": "filesrc", "properties": {"location": "${file}"}},
      {"id": "demux", "factory": "flvdemux"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [
      {"from": "file", "to": "demux"},
      {"from": "demux", "to": "sink", "media": "video", "caps": "video/x-vp6-flash"}
    ]})",
                          LoadOptions{.params = {{"file", file.string()}}});
  BOOST_REQUIRE(result.ok());
  GstElement *pipeline = result.pipeline->element();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline));
  MiniPtr<GstMessage> message(
      gst_bus_timed_pop_filtered(bus.get(), 10 * GST_SECOND, GST_MESSAGE_ERROR));
  BOOST_REQUIRE(message);
  BOOST_TEST(pipelines::describe_object(GST_MESSAGE_SRC(message.get())) == "demux");
  GError *error = nullptr;
  gst_message_parse_error(message.get(), &error, nullptr);
  BOOST_TEST(std::string(error->message).find("demux -> sink") != std::string::npos);
  g_error_free(error);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(slots)

const char *kFanOut = R"({"name": "fan", "summary": "a live source with a tee slot",
  "elements": [
    {"id": "src", "factory": "videotestsrc", "properties": {"is-live": true}},
    {"id": "tee", "factory": "tee"},
    {"id": "queue", "factory": "queue"},
    {"id": "main", "factory": "fakesink", "properties": {"sync": false}}
  ],
  "links": [
    {"from": "src", "to": "tee", "caps": "video/x-raw,width=64,height=48,framerate=100/1"},
    {"from": "tee", "to": "queue"},
    {"from": "queue", "to": "main"}
  ],
  "slots": {"video": {"element": "tee", "doc": "raw video"}}})";

BOOST_AUTO_TEST_CASE(branches_attach_and_detach_while_playing) {
  auto result = load_text(kFanOut);
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  pipelines::Slot *slot = result.pipeline->slot("video");
  BOOST_REQUIRE(slot);
  BOOST_TEST((slot->kind() == pipelines::SlotKind::kFanOut));
  BOOST_TEST(slot->doc() == "raw video");
  GstElement *pipeline = result.pipeline->element();
  auto main = count_into(result.pipeline->find("main"));
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  BOOST_REQUIRE(iterate_until([&] { return main->value() > 5; }));

  for (int round = 0; round < 10; ++round) {
    GstElement *bin = make_branch("queue ! fakesink name=viewer sync=false");
    GstPtr<GstElement> viewer(gst_bin_get_by_name(GST_BIN(bin), "viewer"));
    auto branch_count = count_into(viewer.get());
    std::string error;
    auto branch = slot->attach(bin, &error, {.request_keyframe = true});
    BOOST_REQUIRE_MESSAGE(branch, error);
    BOOST_TEST(slot->branches().size() == 1u);
    BOOST_REQUIRE(iterate_until([&] { return branch_count->value() > 3; }));

    bool detached = false;
    slot->detach(branch, {.on_detached = [&] { detached = true; }});
    BOOST_REQUIRE(iterate_until([&] { return detached; }));
    BOOST_TEST(slot->branches().empty());
    GstObject *parent = gst_object_get_parent(GST_OBJECT(branch->element()));
    BOOST_TEST(!parent);
    if (parent) {
      gst_object_unref(parent);
    }
    GstState state;
    gst_element_get_state(branch->element(), &state, nullptr, 0);
    BOOST_TEST(state == GST_STATE_NULL);
    // The stream goes on for the branch that stayed, and no more for the one
    // that left.
    int after = branch_count->value();
    int main_before = main->value();
    BOOST_REQUIRE(iterate_until([&] { return main->value() > main_before + 5; }));
    BOOST_TEST(branch_count->value() == after);
  }
  // Only the permanent branch's pad is left on the tee.
  BOOST_TEST(GST_ELEMENT(slot->element())->numsrcpads == 1);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

BOOST_AUTO_TEST_CASE(a_tee_slot_without_branches_does_not_stop_the_stream) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "fakesrc", "properties": {"num-buffers": 50}},
      {"id": "tee", "factory": "tee"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "tee"}, {"from": "tee", "to": "sink"}],
    "slots": {"out": {"element": "tee"}}})");
  BOOST_REQUIRE(result.ok());
  gboolean allowed = FALSE;
  g_object_get(result.pipeline->slot("out")->element(), "allow-not-linked", &allowed, nullptr);
  BOOST_TEST(allowed);
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
}

BOOST_AUTO_TEST_CASE(fan_in_branches_feed_a_funnel) {
  auto result = load_text(R"({"name": "in", "summary": "a funnel slot",
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"is-live": true}},
      {"id": "funnel", "factory": "funnel"},
      {"id": "sink", "factory": "fakesink", "properties": {"sync": false}}
    ],
    "links": [
      {"from": "src", "to": "funnel", "caps": "video/x-raw,width=64,height=48,framerate=50/1"},
      {"from": "funnel", "to": "sink"}
    ],
    "slots": {"inputs": {"element": "funnel", "kind": "fan-in"}}})");
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  pipelines::Slot *slot = result.pipeline->slot("inputs");
  BOOST_TEST((slot->kind() == pipelines::SlotKind::kFanIn));
  GstElement *pipeline = result.pipeline->element();
  auto sink_count = count_into(result.pipeline->find("sink"));
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  BOOST_REQUIRE(iterate_until([&] { return sink_count->value() > 5; }));

  GstElement *bin = make_branch(
      "videotestsrc is-live=true name=extra ! "
      "capsfilter caps=video/x-raw,width=64,height=48,framerate=50/1");
  GstPtr<GstElement> extra(gst_bin_get_by_name(GST_BIN(bin), "extra"));
  auto extra_count = count_into(extra.get(), "src");
  std::string error;
  auto branch = slot->attach(bin, &error);
  BOOST_REQUIRE_MESSAGE(branch, error);
  BOOST_REQUIRE(iterate_until([&] { return extra_count->value() > 5; }));
  bool detached = false;
  slot->detach(branch, {.on_detached = [&] { detached = true; }});
  BOOST_REQUIRE(iterate_until([&] { return detached; }));
  int before = sink_count->value();
  BOOST_REQUIRE(iterate_until([&] { return sink_count->value() > before + 5; }));
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

BOOST_AUTO_TEST_CASE(attach_refuses_what_cannot_attach) {
  auto result = load_text(kFanOut);
  BOOST_REQUIRE(result.ok());
  pipelines::Slot *slot = result.pipeline->slot("video");
  std::string error;
  BOOST_TEST(!slot->attach(make_branch("fakesrc ! fakesink"), &error));
  BOOST_TEST(error.find("exactly one unlinked sink pad; it has 0") != std::string::npos);
  BOOST_TEST(!slot->attach(make_branch("audioconvert ! fakesink"), &error));
  BOOST_TEST(error.find("cannot link") != std::string::npos);
  BOOST_TEST(slot->branches().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(presets)

BOOST_AUTO_TEST_CASE(every_preset_validates_and_builds) {
  auto presets = pipelines::list_presets(presets_dir());
  BOOST_TEST(presets.size() >= 6u);
  for (const auto &preset : presets) {
    BOOST_TEST_CONTEXT(preset.name) {
      auto result = load_preset(preset.name, LoadOptions{.use_examples = true});
      BOOST_TEST_INFO(all_problems(result));
      BOOST_TEST(result.ok());
      BOOST_TEST(result.pipeline);
      // Every param is documented and example commands exist for required ones.
      pipelines::Problems problems;
      auto decl = pipelines::read_declarations(preset.file, problems);
      BOOST_REQUIRE(decl);
      BOOST_TEST(!decl->summary.empty());
      for (const auto &param : decl->params) {
        BOOST_TEST(!param.doc.empty(), param.name);
        if (param.required) {
          BOOST_TEST(param.example.has_value(), param.name);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_fan_out_presets_offer_shared_rtp_and_encoded_slots) {
  for (const char *name : {"webrtc-publish-fanout", "rtmp-pull-webrtc-fanout", "replay-file",
                           "webrtc-publish-moderated", "webrtc-publish-moderated-passthrough"}) {
    BOOST_TEST_CONTEXT(name) {
      auto result = load_preset(name, LoadOptions{.use_examples = true});
      BOOST_REQUIRE(result.ok());
      for (const char *slot : {"video-h264", "video-rtp", "audio-opus", "audio-rtp"}) {
        BOOST_TEST(result.pipeline->slot(slot), slot);
      }
    }
  }
}

// An in-process WebRTC publisher: its own webrtcbin sends H.264 and Opus to
// `server` (a webrtcbin in a preset) over loopback ICE. Offer, answer and
// candidates are handed over directly, as the signaling service would.
class LoopbackPublisher {
 public:
  explicit LoopbackPublisher(GstElement *server) : server_(server) {
    GError *error = nullptr;
    pipeline_ = sink(gst_parse_launch(
        "webrtcbin name=pub bundle-policy=max-bundle "
        "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 "
        "! x264enc tune=zerolatency key-int-max=15 ! rtph264pay config-interval=-1 pt=96 "
        "! application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000 ! pub. "
        "audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111 "
        "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! pub.",
        &error));
    BOOST_REQUIRE_MESSAGE(pipeline_ && !error, (error ? error->message : ""));
    publisher_.reset(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "pub"));
    g_signal_connect(publisher_.get(), "on-negotiation-needed", G_CALLBACK(negotiate), this);
    g_signal_connect(publisher_.get(), "on-ice-candidate", G_CALLBACK(forward), server_);
    g_signal_connect(server_, "on-ice-candidate", G_CALLBACK(forward), publisher_.get());
  }
  ~LoopbackPublisher() {
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    g_signal_handlers_disconnect_by_data(publisher_.get(), this);
    g_signal_handlers_disconnect_by_data(publisher_.get(), server_);
    g_signal_handlers_disconnect_by_data(server_, publisher_.get());
  }
  void start() { gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING); }

 private:
  static GstWebRTCSessionDescription *reply(GstPromise *promise, const char *field) {
    GstWebRTCSessionDescription *description = nullptr;
    gst_structure_get(gst_promise_get_reply(promise), field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                      &description, nullptr);
    gst_promise_unref(promise);
    return description;
  }
  static void negotiate(GstElement *publisher, gpointer data) {
    g_signal_emit_by_name(publisher, "create-offer", nullptr,
                          gst_promise_new_with_change_func(on_offer, data, nullptr));
  }
  static void on_offer(GstPromise *promise, gpointer data) {
    auto *self = static_cast<LoopbackPublisher *>(data);
    GstWebRTCSessionDescription *offer = reply(promise, "offer");
    g_signal_emit_by_name(self->publisher_.get(), "set-local-description", offer, nullptr);
    g_signal_emit_by_name(self->server_, "set-remote-description", offer, nullptr);
    gst_webrtc_session_description_free(offer);
    g_signal_emit_by_name(self->server_, "create-answer", nullptr,
                          gst_promise_new_with_change_func(on_answer, data, nullptr));
  }
  static void on_answer(GstPromise *promise, gpointer data) {
    auto *self = static_cast<LoopbackPublisher *>(data);
    GstWebRTCSessionDescription *answer = reply(promise, "answer");
    g_signal_emit_by_name(self->server_, "set-local-description", answer, nullptr);
    g_signal_emit_by_name(self->publisher_.get(), "set-remote-description", answer, nullptr);
    gst_webrtc_session_description_free(answer);
  }
  static void forward(GstElement *, guint mline, gchar *candidate, gpointer other) {
    g_signal_emit_by_name(static_cast<GstElement *>(other), "add-ice-candidate", mline, candidate);
  }

  GstElement *server_;
  GstPtr<GstElement> pipeline_;
  GstPtr<GstElement> publisher_;
};

// Counting fakesink branches on a preset's slots.
class SlotTaps {
 public:
  SlotTaps(const pipelines::Pipeline &pipeline, std::initializer_list<const char *> slots) {
    for (const char *slot : slots) {
      GstElement *bin = make_branch("queue ! fakesink name=out sync=false async=false");
      GstPtr<GstElement> out(gst_bin_get_by_name(GST_BIN(bin), "out"));
      counts_[slot] = count_into(out.get());
      std::string error;
      BOOST_REQUIRE_MESSAGE(pipeline.slot(slot)->attach(bin, &error), error);
    }
  }
  // Waits until every slot has passed more than `buffers`.
  bool all_above(int buffers, int seconds) const {
    bool ok = iterate_until(
        [&] {
          return std::all_of(counts_.begin(), counts_.end(),
                             [&](const auto &count) { return count.second->value() > buffers; });
        },
        seconds);
    for (const auto &[slot, count] : counts_) {
      BOOST_TEST_MESSAGE(slot << " passed " << count->value() << " buffers");
      BOOST_TEST(count->value() > buffers, slot);
    }
    return ok;
  }

 private:
  std::map<std::string, std::unique_ptr<Counter>> counts_;
};

BOOST_AUTO_TEST_CASE(webrtc_publish_fanout_receives_a_publisher_over_loopback) {
  auto server = load_preset("webrtc-publish-fanout", {});
  BOOST_TEST_INFO(all_problems(server));
  BOOST_REQUIRE(server.ok());
  LoopbackPublisher publisher(server.pipeline->find("webrtc"));
  SlotTaps taps(*server.pipeline, {"video-rtp", "audio-rtp", "video-h264", "audio-opus"});
  gst_element_set_state(server.pipeline->element(), GST_STATE_PLAYING);
  publisher.start();
  BOOST_TEST(taps.all_above(20, 30));
  // The RTP that viewers get carries the payload type the preset sets.
  GstPtr<GstPad> rtp_pad(
      gst_element_get_static_pad(server.pipeline->slot("video-rtp")->element(), "sink"));
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(rtp_pad.get()));
  BOOST_REQUIRE(caps);
  int payload = 0;
  gst_structure_get_int(gst_caps_get_structure(caps.get(), 0), "payload", &payload);
  BOOST_TEST(payload == 96);
  gst_element_set_state(server.pipeline->element(), GST_STATE_NULL);
}

// nginx with the RTMP module on a free loopback port, for as long as it lives.
class RtmpServer {
 public:
  RtmpServer() {
    port_ = free_port();
    dir_.write("nginx.conf",
               "daemon off;\nmaster_process off;\npid " + (dir_.path() / "nginx.pid").string() +
                   ";\nerror_log " + (dir_.path() / "error.log").string() +
                   ";\nload_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n"
                   "events {}\nrtmp { server { listen 127.0.0.1:" +
                   std::to_string(port_) + "; application live { live on; record off; } } }\n");
    std::string prefix = dir_.path().string() + "/";
    std::string conf = (dir_.path() / "nginx.conf").string();
    std::string errors = (dir_.path() / "error.log").string();
    const char *argv[] = {"nginx",      "-p", prefix.c_str(), "-c",
                          conf.c_str(), "-e", errors.c_str(), nullptr};
    GError *error = nullptr;
    BOOST_REQUIRE_MESSAGE(
        g_spawn_async(nullptr, const_cast<gchar **>(argv), nullptr,
                      GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), nullptr,
                      nullptr, &pid_, &error),
        (error ? error->message : "nginx did not start"));
    BOOST_REQUIRE_MESSAGE(iterate_until([&] { return accepts(); }, 10),
                          "nginx does not listen on port " << port_);
  }
  ~RtmpServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    g_spawn_close_pid(pid_);
  }
  std::string url(const std::string &stream) const {
    return "rtmp://127.0.0.1:" + std::to_string(port_) + "/live/" + stream;
  }

 private:
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
  }
  bool accepts() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
    close(fd);
    return ok;
  }

  TempDir dir_;
  int port_ = 0;
  GPid pid_ = 0;
};

// The RTMP presets through a real RTMP server: a WebRTC publisher restreamed
// to nginx by webrtc-publish-rtmp (Opus becomes AAC), pulled back by
// rtmp-pull-webrtc-fanout (AAC becomes Opus) and fanned out to its slots.
BOOST_AUTO_TEST_CASE(rtmp_presets_restream_and_pull_through_nginx) {
  RtmpServer nginx;
  std::string url = nginx.url("loopback");
  auto restream = load_preset("webrtc-publish-rtmp", LoadOptions{.params = {{"url", url}}});
  BOOST_TEST_INFO(all_problems(restream));
  BOOST_REQUIRE(restream.ok());
  LoopbackPublisher publisher(restream.pipeline->find("webrtc"));
  auto sent = count_into(restream.pipeline->find("rtmp"));
  auto video_in = count_into(restream.pipeline->find("video-queue"));
  auto audio_in = count_into(restream.pipeline->find("audio-queue"));
  gst_element_set_state(restream.pipeline->element(), GST_STATE_PLAYING);
  publisher.start();
  BOOST_REQUIRE_MESSAGE(iterate_until([&] { return sent->value() > 30; }, 30),
                        "the restream sent " << sent->value() << " buffers to nginx");

  auto pull = load_preset("rtmp-pull-webrtc-fanout", LoadOptions{.params = {{"url", url}}});
  BOOST_TEST_INFO(all_problems(pull));
  BOOST_REQUIRE(pull.ok());
  SlotTaps taps(*pull.pipeline, {"video-rtp", "audio-rtp", "video-h264", "audio-opus"});
  gst_element_set_state(pull.pipeline->element(), GST_STATE_PLAYING);
  BOOST_TEST(taps.all_above(20, 30));
  BOOST_TEST_MESSAGE("the restream muxed " << video_in->value() << " video and "
                                           << audio_in->value() << " audio buffers, sent "
                                           << sent->value());
  gst_element_set_state(pull.pipeline->element(), GST_STATE_NULL);
  gst_element_set_state(restream.pipeline->element(), GST_STATE_NULL);
}

BOOST_AUTO_TEST_CASE(testsrc_beauty_file_runs_to_eos) {
  TempDir dir;
  auto out = dir.path() / "beauty.mp4";
  auto result =
      load_preset("testsrc-beauty-file", LoadOptions{.params = {{"location", out.string()},
                                                                {"num-buffers", "30"},
                                                                {"width", "320"},
                                                                {"height", "240"}}});
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
  BOOST_TEST(ffprobe_frames(out) == 30);
}

// Replay a file to its slots, record the video slot with the record-file
// branch, and compare: three presets through the path the server uses.
BOOST_AUTO_TEST_CASE(replay_file_with_a_record_file_branch_runs_to_eos) {
  TempDir dir;
  auto source = dir.path() / "source.mp4";
  auto copy = dir.path() / "copy.mp4";
  make_file(
      "videotestsrc num-buffers=40 ! video/x-raw,width=160,height=120,framerate=40/1 ! "
      "x264enc key-int-max=10 ! mp4mux ! filesink location=" +
      source.string());
  auto replay = load_preset(
      "replay-file", LoadOptions{.params = {{"location", source.string()}, {"realtime", "false"}}});
  BOOST_TEST_INFO(all_problems(replay));
  BOOST_REQUIRE(replay.ok());
  auto recorder = load_preset("record-file", LoadOptions{.params = {{"location", copy.string()}}});
  BOOST_TEST_INFO(all_problems(recorder));
  BOOST_REQUIRE(recorder.ok());
  BOOST_REQUIRE(recorder.pipeline->is_branch());
  std::string error;
  auto branch = replay.pipeline->slot("video-h264")->attach(recorder.pipeline->element(), &error);
  BOOST_REQUIRE_MESSAGE(branch, error);
  BOOST_TEST(run_to_end(replay.pipeline->element()) == "");
  BOOST_TEST(ffprobe_frames(copy) == 40);
}

BOOST_AUTO_TEST_CASE(a_recorder_detached_with_drain_leaves_a_finished_file) {
  TempDir dir;
  auto copy = dir.path() / "live.mp4";
  // A live encoder feeding a tee slot, as a published stream would.
  auto fan = load_text(R"({"name": "fan", "summary": "s",
    "include": ["templates/codecs.json"],
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"is-live": true}},
      {"id": "enc", "template": "h264-encoder", "params": {"key-int-max": 10}},
      {"id": "tee", "factory": "tee"}
    ],
    "links": [
      {"from": "src", "to": "enc", "caps": "video/x-raw,width=160,height=120,framerate=30/1"},
      {"from": "enc", "to": "tee", "caps": "video/x-h264,stream-format=avc,alignment=au"}
    ],
    "slots": {"video-h264": {"element": "tee"}}})");
  BOOST_TEST_INFO(all_problems(fan));
  BOOST_REQUIRE(fan.ok());
  auto recorder =
      load_preset("record-file",
                  LoadOptions{.params = {{"location", copy.string()}, {"fragment-duration", "0"}}});
  BOOST_REQUIRE(recorder.ok());
  gst_element_set_state(fan.pipeline->element(), GST_STATE_PLAYING);
  std::string error;
  pipelines::Slot *slot = fan.pipeline->slot("video-h264");
  auto branch = slot->attach(recorder.pipeline->element(), &error, {.request_keyframe = true});
  BOOST_REQUIRE_MESSAGE(branch, error);
  auto written = count_into(recorder.pipeline->find("sink"));
  BOOST_REQUIRE(iterate_until([&] { return written->value() > 0; }));
  g_usleep(G_USEC_PER_SEC);
  bool detached = false;
  slot->detach(branch, {.drain = true, .on_detached = [&] { detached = true; }});
  BOOST_REQUIRE(iterate_until([&] { return detached; }, 20));
  // Not fragmented: without a drained EOS there would be no moov and no frames.
  BOOST_TEST(ffprobe_frames(copy) > 10);
  gst_element_set_state(fan.pipeline->element(), GST_STATE_NULL);
}

BOOST_AUTO_TEST_SUITE_END()
