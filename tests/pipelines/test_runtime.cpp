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

#include <algorithm>
#include <atomic>
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
      auto result = load_preset(preset.name, LoadOptions{.placeholders = true});
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
  for (const char *name : {"webrtc-publish-fanout", "rtmp-pull-webrtc-fanout", "replay-file"}) {
    BOOST_TEST_CONTEXT(name) {
      auto result = load_preset(name, LoadOptions{.placeholders = true});
      BOOST_REQUIRE(result.ok());
      for (const char *slot : {"video-h264", "video-rtp", "audio-opus", "audio-rtp"}) {
        BOOST_TEST(result.pipeline->slot(slot), slot);
      }
    }
  }
}

// An in-process WebRTC publisher (its own webrtcbin) sends H.264 and Opus to
// the webrtc-publish-fanout preset over loopback ICE; branches on the slots
// receive the shared RTP and the encoded stream. Offer, answer and
// candidates are handed over directly, as the signaling service would.
namespace webrtc_loopback {

struct Peers {
  GstElement *publisher;
  GstElement *server;
};

void on_answer_created(GstPromise *promise, gpointer data) {
  auto *peers = static_cast<Peers *>(data);
  GstWebRTCSessionDescription *answer = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                    &answer, nullptr);
  gst_promise_unref(promise);
  g_signal_emit_by_name(peers->server, "set-local-description", answer, nullptr);
  g_signal_emit_by_name(peers->publisher, "set-remote-description", answer, nullptr);
  gst_webrtc_session_description_free(answer);
}

void on_offer_created(GstPromise *promise, gpointer data) {
  auto *peers = static_cast<Peers *>(data);
  GstWebRTCSessionDescription *offer = nullptr;
  gst_structure_get(gst_promise_get_reply(promise), "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                    &offer, nullptr);
  gst_promise_unref(promise);
  g_signal_emit_by_name(peers->publisher, "set-local-description", offer, nullptr);
  g_signal_emit_by_name(peers->server, "set-remote-description", offer, nullptr);
  gst_webrtc_session_description_free(offer);
  g_signal_emit_by_name(peers->server, "create-answer", nullptr,
                        gst_promise_new_with_change_func(on_answer_created, peers, nullptr));
}

void on_negotiation_needed(GstElement *publisher, gpointer data) {
  g_signal_emit_by_name(publisher, "create-offer", nullptr,
                        gst_promise_new_with_change_func(on_offer_created, data, nullptr));
}

void forward_candidate(GstElement *, guint mline, gchar *candidate, gpointer other) {
  g_signal_emit_by_name(static_cast<GstElement *>(other), "add-ice-candidate", mline, candidate);
}

}  // namespace webrtc_loopback

BOOST_AUTO_TEST_CASE(webrtc_publish_fanout_receives_a_publisher_over_loopback) {
  auto server = load_preset("webrtc-publish-fanout", {});
  BOOST_TEST_INFO(all_problems(server));
  BOOST_REQUIRE(server.ok());
  GError *error = nullptr;
  GstPtr<GstElement> publisher = sink(gst_parse_launch(
      "webrtcbin name=pub bundle-policy=max-bundle "
      "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 "
      "! x264enc tune=zerolatency key-int-max=15 ! rtph264pay config-interval=-1 pt=96 "
      "! application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000 ! pub. "
      "audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111 "
      "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! pub.",
      &error));
  BOOST_REQUIRE_MESSAGE(publisher && !error, (error ? error->message : ""));
  GstPtr<GstElement> pub(gst_bin_get_by_name(GST_BIN(publisher.get()), "pub"));
  webrtc_loopback::Peers peers{pub.get(), server.pipeline->find("webrtc")};
  g_signal_connect(peers.publisher, "on-negotiation-needed",
                   G_CALLBACK(webrtc_loopback::on_negotiation_needed), &peers);
  g_signal_connect(peers.publisher, "on-ice-candidate",
                   G_CALLBACK(webrtc_loopback::forward_candidate), peers.server);
  g_signal_connect(peers.server, "on-ice-candidate", G_CALLBACK(webrtc_loopback::forward_candidate),
                   peers.publisher);

  std::map<std::string, std::unique_ptr<Counter>> counts;
  std::vector<std::pair<pipelines::Slot *, pipelines::BranchPtr>> branches;
  for (const char *slot : {"video-rtp", "audio-rtp", "video-h264", "audio-opus"}) {
    GstElement *bin = make_branch("queue ! fakesink name=out sync=false async=false");
    GstPtr<GstElement> out(gst_bin_get_by_name(GST_BIN(bin), "out"));
    counts[slot] = count_into(out.get());
    std::string attach_error;
    auto branch = server.pipeline->slot(slot)->attach(bin, &attach_error);
    BOOST_REQUIRE_MESSAGE(branch, attach_error);
    branches.emplace_back(server.pipeline->slot(slot), branch);
  }
  gst_element_set_state(server.pipeline->element(), GST_STATE_PLAYING);
  gst_element_set_state(publisher.get(), GST_STATE_PLAYING);
  bool flowing = iterate_until(
      [&] {
        return std::all_of(counts.begin(), counts.end(),
                           [](const auto &count) { return count.second->value() > 20; });
      },
      30);
  for (const auto &[slot, count] : counts) {
    BOOST_TEST_INFO(slot << " received " << count->value());
    BOOST_TEST(count->value() > 20);
  }
  BOOST_TEST(flowing);
  // The RTP that viewers get carries the payload types the preset sets.
  GstPtr<GstPad> rtp_pad(
      gst_element_get_static_pad(server.pipeline->find("video-rtp-tee"), "sink"));
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(rtp_pad.get()));
  BOOST_REQUIRE(caps);
  int payload = 0;
  gst_structure_get_int(gst_caps_get_structure(caps.get(), 0), "payload", &payload);
  BOOST_TEST(payload == 96);
  g_signal_handlers_disconnect_by_data(peers.publisher, &peers);
  gst_element_set_state(publisher.get(), GST_STATE_NULL);
  gst_element_set_state(server.pipeline->element(), GST_STATE_NULL);
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
