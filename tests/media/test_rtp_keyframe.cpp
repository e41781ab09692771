// Key frames read from RTP payloads: hand-made H.264 and VP8 packets, then
// what GStreamer's own encoders and payloaders send, where the packets that
// begin a key frame must belong exactly to the frames encoded as key frames.
#define BOOST_TEST_MODULE rtp_keyframe
#include <boost/test/unit_test.hpp>

#include "rtp_keyframe.h"

#include <gst/app/app.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>

#include <string>
#include <vector>

using livepipe::signaling::media::rtp_begins_keyframe;

namespace {

bool begins(const char *encoding, std::vector<uint8_t> payload) {
  return rtp_begins_keyframe(encoding, payload.data(), payload.size());
}

struct GstInit {
  GstInit() { gst_init(nullptr, nullptr); }
};
BOOST_GLOBAL_FIXTURE(GstInit);

struct Packet {
  uint32_t timestamp;
  bool begins_keyframe;
};

// Runs `launch` (ending in appsink name=out) and returns its RTP packets.
std::vector<Packet> packets_of(const std::string &launch, const char *encoding) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(launch.c_str(), &error);
  BOOST_REQUIRE_MESSAGE(pipeline, (error ? error->message : "no pipeline"));
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "out");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  std::vector<Packet> packets;
  for (int i = 0; i < 10000; ++i) {
    GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND);
    if (!sample) {
      break;
    }
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    BOOST_REQUIRE(gst_rtp_buffer_map(gst_sample_get_buffer(sample), GST_MAP_READ, &rtp));
    packets.push_back({gst_rtp_buffer_get_timestamp(&rtp),
                       rtp_begins_keyframe(
                           encoding, static_cast<const uint8_t *>(gst_rtp_buffer_get_payload(&rtp)),
                           gst_rtp_buffer_get_payload_len(&rtp))});
    gst_rtp_buffer_unmap(&rtp);
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return packets;
}

// The frames (RTP timestamps, in order) that have a packet beginning a key
// frame, and all the frames.
std::vector<uint32_t> frames(const std::vector<Packet> &packets, bool keyframes_only) {
  std::vector<uint32_t> out;
  for (const auto &packet : packets) {
    if ((!keyframes_only || packet.begins_keyframe) &&
        (out.empty() || out.back() != packet.timestamp)) {
      out.push_back(packet.timestamp);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(h264_units) {
  BOOST_TEST(begins("H264", {0x65, 0x88}));         // IDR slice
  BOOST_TEST(begins("h264", {0x67, 0x42}));         // SPS, any case of the name
  BOOST_TEST(!begins("H264", {0x41, 0x9a}));        // non-IDR slice
  BOOST_TEST(!begins("H264", {0x68, 0xce}));        // PPS alone
  BOOST_TEST(begins("H264", {0x7c, 0x85, 0x00}));   // FU-A start of an IDR
  BOOST_TEST(!begins("H264", {0x7c, 0x45, 0x00}));  // FU-A end of an IDR
  BOOST_TEST(!begins("H264", {0x7c, 0x81, 0x00}));  // FU-A start of a non-IDR
  // STAP-A with a PPS then an SPS; then one whose second unit overruns.
  BOOST_TEST(begins("H264", {0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x67, 0x42}));
  BOOST_TEST(!begins("H264", {0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x09, 0x67, 0x42}));
  BOOST_TEST(!begins("H264", {0x78, 0x00, 0x00}));
  BOOST_TEST(!begins("H264", {}));
  BOOST_TEST(!rtp_begins_keyframe("H264", nullptr, 4));
}

BOOST_AUTO_TEST_CASE(vp8_descriptors) {
  BOOST_TEST(begins("VP8", {0x10, 0x00}));                    // S, partition 0, key frame
  BOOST_TEST(!begins("VP8", {0x10, 0x01}));                   // interframe
  BOOST_TEST(!begins("VP8", {0x00, 0x00}));                   // not the start
  BOOST_TEST(!begins("VP8", {0x11, 0x00}));                   // partition 1
  BOOST_TEST(begins("VP8", {0x90, 0x80, 0x81, 0x23, 0x00}));  // X, I with a 15-bit picture id
  BOOST_TEST(!begins("VP8", {0x90, 0x80, 0x81, 0x23, 0x01}));
  BOOST_TEST(begins("VP8", {0x90, 0xf0, 0x05, 0x07, 0x20, 0x00}));  // I (7 bits), L, T/K
  BOOST_TEST(!begins("VP8", {0x90, 0xf0, 0x05, 0x07, 0x20}));       // cut before the header
  BOOST_TEST(!begins("VP8", {0x90}));
  BOOST_TEST(!begins("VP9", {0x10, 0x00}));  // another encoding
}

BOOST_AUTO_TEST_CASE(h264_from_x264_and_rtph264pay) {
  // 30 frames with a key frame every 10, payloaded in small packets so key
  // frames span FU-A fragments; SPS/PPS come before each IDR.
  auto flags = packets_of(
      "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 "
      "! x264enc key-int-max=10 bframes=0 speed-preset=ultrafast ! "
      "video/x-h264,profile=constrained-baseline ! rtph264pay mtu=400 config-interval=-1 "
      "! appsink name=out sync=false max-buffers=0",
      "H264");
  auto all = frames(flags, false);
  BOOST_REQUIRE(all.size() == 30u);
  // Exactly frames 0, 10 and 20 (their SPS and IDR packets; never a P frame).
  std::vector<uint32_t> expected{all[0], all[10], all[20]};
  BOOST_TEST(frames(flags, true) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vp8_from_vp8enc_and_rtpvp8pay) {
  auto flags = packets_of(
      "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 "
      "! vp8enc keyframe-max-dist=10 deadline=1 ! rtpvp8pay mtu=400 picture-id-mode=15-bit "
      "! appsink name=out sync=false max-buffers=0",
      "VP8");
  auto all = frames(flags, false);
  BOOST_REQUIRE(all.size() == 30u);
  std::vector<uint32_t> expected{all[0], all[10], all[20]};
  BOOST_TEST(frames(flags, true) == expected, boost::test_tools::per_element());
  size_t begun = 0;
  for (const auto &packet : flags) {
    begun += packet.begins_keyframe;
  }
  BOOST_TEST(begun == 3u);  // only each key frame's first packet
}
