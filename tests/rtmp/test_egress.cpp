// RTMP restreams of a running stream, against a real nginx-rtmp on loopback:
// a VP8 + Opus RTP stream (what a browser publishes) is transcoded once for
// two destinations and ffprobe reads H.264 + AAC from both; destinations are
// removed while the stream plays; an unreachable one retries with backoff.
#define BOOST_TEST_MODULE rtmp_egress
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "pipelines/loader_fixture.h"
#include "support/rtmp_server.h"

#include "egress.h"

#include <gst/gst.h>

#include <string>

using namespace livepipe;
using namespace livepipe::testing;
using livepipe::signaling::rtmp::EgressOptions;
using livepipe::signaling::rtmp::RtmpEgress;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

// A live VP8 + Opus RTP source with the fan-out slots of a stream.
const char *kRtpStream = R"({
  "name": "vp8-opus-rtp",
  "summary": "A browser-like VP8 + Opus RTP stream with fan-out slots",
  "elements": [
    {"id": "vsrc", "factory": "videotestsrc", "properties": {"is-live": true}},
    {"id": "venc", "factory": "vp8enc",
     "properties": {"deadline": 1, "keyframe-max-dist": 600, "cpu-used": 8}},
    {"id": "vpay", "factory": "rtpvp8pay"},
    {"id": "video-rtp-tee", "factory": "tee", "properties": {"allow-not-linked": true}},
    {"id": "asrc", "factory": "audiotestsrc", "properties": {"is-live": true}},
    {"id": "aenc", "factory": "opusenc"},
    {"id": "apay", "factory": "rtpopuspay"},
    {"id": "audio-rtp-tee", "factory": "tee", "properties": {"allow-not-linked": true}},
    {"id": "vsink", "factory": "fakesink", "properties": {"sync": false}},
    {"id": "asink", "factory": "fakesink", "properties": {"sync": false}}
  ],
  "links": [
    {"from": "vsrc", "to": "venc", "caps": "video/x-raw,width=320,height=240,framerate=30/1"},
    {"from": "venc", "to": "vpay"},
    {"from": "vpay", "to": "video-rtp-tee"},
    {"from": "video-rtp-tee", "to": "vsink"},
    {"from": "asrc", "to": "aenc"},
    {"from": "aenc", "to": "apay"},
    {"from": "apay", "to": "audio-rtp-tee"},
    {"from": "audio-rtp-tee", "to": "asink"}
  ],
  "slots": {
    "video-rtp": {"element": "video-rtp-tee", "kind": "fan-out",
                  "caps": "application/x-rtp,media=video,encoding-name=VP8"},
    "audio-rtp": {"element": "audio-rtp-tee", "kind": "fan-out",
                  "caps": "application/x-rtp,media=audio,encoding-name=OPUS"}
  }
})";

int count_factory(GstElement *bin, const char *factory) {
  int count = 0;
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(bin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElement *element = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory *f = gst_element_get_factory(element);
    if (f && g_strcmp0(GST_OBJECT_NAME(f), factory) == 0) {
      ++count;
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return count;
}

// ffprobe on a live RTMP URL: "codec,frames" per stream, video first.
std::string probe(const std::string &url) {
  std::string command =
      "timeout 20 ffprobe -v error -rw_timeout 10000000 -read_intervals %+3 "
      "-count_frames -show_entries stream=codec_type,codec_name,nb_read_frames "
      "-of csv=p=0 " +
      url;
  gchar *out = nullptr;
  gint status = 0;
  g_spawn_command_line_sync(command.c_str(), &out, nullptr, &status, nullptr);
  std::string text = out ? out : "";
  g_free(out);
  return text;
}

int frames_of(const std::string &probed, const std::string &codec) {
  size_t at = probed.find(codec + ",");
  if (at == std::string::npos) {
    return 0;
  }
  size_t comma = probed.find(',', at + codec.size() + 1);
  return comma == std::string::npos ? 0 : std::atoi(probed.c_str() + comma + 1);
}

signaling::rtmp::DestinationInfo find(const std::vector<signaling::rtmp::DestinationInfo> &all,
                                      const std::string &id) {
  for (const auto &d : all) {
    if (d.id == id) {
      return d;
    }
  }
  BOOST_FAIL("no destination " << id);
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(vp8_stream_is_transcoded_once_for_two_destinations) {
  TempDir dir;
  NginxRtmp nginx(dir.path() / "nginx");
  auto loaded = load_text(kRtpStream);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), all_problems(loaded));
  GstElement *pipeline = loaded.pipeline->element();
  BOOST_REQUIRE(gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  {
    RtmpEgress egress("cam", *loaded.pipeline, {"VP8", true}, EgressOptions{});
    BOOST_TEST(egress.transcodes_video());
    std::string error;
    std::string a = egress.add(nginx.url("a"), &error);
    BOOST_REQUIRE_MESSAGE(!a.empty(), error);
    std::string b = egress.add(nginx.url("b"), &error);
    BOOST_REQUIRE_MESSAGE(!b.empty(), error);
    BOOST_TEST(count_factory(pipeline, "x264enc") == 1);
    BOOST_TEST(count_factory(pipeline, "avenc_aac") == 1);
    BOOST_REQUIRE(iterate_until(
        [&] {
          auto all = egress.destinations();
          return all.size() == 2 && all[0].state == "live" && all[1].state == "live";
        },
        20));
    // Let both run a moment, then read each back as a player would.
    iterate_until([] { return false; }, 1);
    for (const auto &stream : {"a", "b"}) {
      std::string probed = probe(nginx.url(stream));
      BOOST_TEST_MESSAGE("ffprobe " << stream << ": " << probed);
      BOOST_TEST(frames_of(probed, "h264") > 10, "video frames from " << stream << ": " << probed);
      BOOST_TEST(frames_of(probed, "aac") > 10, "audio frames from " << stream << ": " << probed);
    }
    auto all = egress.destinations();
    BOOST_TEST(find(all, a).bytes_sent > 10000u);
    BOOST_TEST(find(all, a).attempts == 1u);

    // Removing one leaves the other (and the single transcode) running.
    BOOST_TEST(egress.remove(a));
    BOOST_TEST(!egress.remove(a));
    BOOST_TEST(egress.size() == 1u);
    uint64_t before = find(egress.destinations(), b).bytes_sent;
    BOOST_REQUIRE(iterate_until(
        [&] { return find(egress.destinations(), b).bytes_sent > before + 20000; }, 10));
    BOOST_TEST(egress.remove(b));
    // The transcode goes with the last destination.
    BOOST_REQUIRE(iterate_until([&] { return count_factory(pipeline, "x264enc") == 0; }, 10));
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

BOOST_AUTO_TEST_CASE(unreachable_destination_retries_with_bounded_backoff) {
  TempDir dir;
  auto loaded = load_text(kRtpStream);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), all_problems(loaded));
  GstElement *pipeline = loaded.pipeline->element();
  BOOST_REQUIRE(gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  {
    EgressOptions options;
    options.backoff_initial_ms = 200;
    options.backoff_max_ms = 800;
    RtmpEgress egress("cam", *loaded.pipeline, {"VP8", true}, options);
    std::string error;
    BOOST_TEST(egress.add("http://example.com/x/y", &error).empty());
    BOOST_TEST(error.find("rtmp://") != std::string::npos);
    // Nothing listens there: every attempt fails at once.
    int port = NginxRtmp::free_port();
    std::string id =
        egress.add("rtmp://127.0.0.1:" + std::to_string(port) + "/live/nobody", &error);
    BOOST_REQUIRE_MESSAGE(!id.empty(), error);
    BOOST_REQUIRE(iterate_until([&] { return egress.destinations()[0].attempts >= 5; }, 15));
    auto d = egress.destinations()[0];
    BOOST_TEST((d.state == "retrying" || d.state == "connecting"));
    BOOST_TEST(!d.last_error.empty());
    if (d.state == "retrying") {
      int64_t wait = d.next_attempt_unix_ms - g_get_real_time() / 1000;
      BOOST_TEST(wait <= 800);
    }
    // A working destination beside the failing one goes live all the same.
    NginxRtmp nginx(dir.path() / "nginx");
    std::string live_id = egress.add(nginx.url("working"), &error);
    BOOST_REQUIRE_MESSAGE(!live_id.empty(), error);
    BOOST_REQUIRE(
        iterate_until([&] { return find(egress.destinations(), live_id).state == "live"; }, 20));
    BOOST_TEST(egress.remove(id));
    BOOST_TEST(egress.remove(live_id));
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
}
