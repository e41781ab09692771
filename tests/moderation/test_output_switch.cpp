// lpmoderationswitch's decisions without GStreamer: what reaches the outputs,
// what the snapshot path decodes, when key frames are asked for, and where
// key frames are in H.264 and VP8.
#define BOOST_TEST_MODULE output_switch
#include <boost/test/unit_test.hpp>

#include "outputswitch.h"

#include <cstdint>
#include <ostream>
#include <vector>

using namespace livepipe::moderation;

namespace livepipe::moderation {
std::ostream &operator<<(std::ostream &out, Output output) {
  return out << (output == Output::Passthrough ? "passthrough" : "processed");
}
}  // namespace livepipe::moderation

namespace {

constexpr int64_t kMs = 1000000;
constexpr int64_t kFrame = 33 * kMs;

// A video switch with a one-second interval.
OutputSwitch video() {
  SwitchSettings settings;
  settings.interval_ns = 1000 * kMs;
  return OutputSwitch(settings);
}

OutputSwitch audio() {
  SwitchSettings settings;
  settings.video = false;
  return OutputSwitch(settings);
}

}  // namespace

BOOST_AUTO_TEST_CASE(allowed_frames_pass_and_only_key_frames_are_decoded) {
  OutputSwitch s = video();
  int decoded = 0, requests = 0;
  for (int i = 0; i < 30; ++i) {
    auto in = s.on_input(Action::Allow, i == 0, i * kFrame, false);
    BOOST_TEST(in.forward);
    decoded += in.decode;
    requests += in.request_keyframe;
    BOOST_TEST(!s.on_raw(i * kFrame));  // nothing is encoded
  }
  BOOST_TEST(decoded == 1);
  BOOST_TEST(requests == 0);  // under one interval since the key frame
  BOOST_TEST(!s.processing());
  BOOST_TEST(s.output() == Output::Passthrough);
}

BOOST_AUTO_TEST_CASE(a_key_frame_is_asked_for_once_per_interval_without_one) {
  OutputSwitch s = video();
  std::vector<int64_t> asked;
  for (int i = 0; i < 100; ++i) {  // 3.3 s, one key frame at the start
    if (s.on_input(Action::Allow, i == 0, i * kFrame, false).request_keyframe) {
      asked.push_back(i * kFrame);
    }
  }
  BOOST_REQUIRE(asked.size() == 3u);
  BOOST_TEST(asked[0] >= 1000 * kMs);
  BOOST_TEST(asked[1] - asked[0] >= 1000 * kMs);
  // The key frame that answers resets the wait.
  OutputSwitch t = video();
  t.on_input(Action::Allow, true, 0, false);
  BOOST_TEST(t.on_input(Action::Allow, false, 1000 * kMs, false).request_keyframe);
  BOOST_TEST(t.on_input(Action::Allow, true, 1100 * kMs, false).decode);
  BOOST_TEST(!t.on_input(Action::Allow, false, 2050 * kMs, false).request_keyframe);
  BOOST_TEST(t.on_input(Action::Allow, false, 2110 * kMs, false).request_keyframe);
  // Switched off: never.
  OutputSwitch u = video();
  u.set_request_keyframes(false);
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(!u.on_input(Action::Allow, i == 0, i * kFrame, false).request_keyframe);
  }
}

BOOST_AUTO_TEST_CASE(blur_stops_the_publishers_frames_at_once_and_decodes_from_a_key_frame) {
  OutputSwitch s = video();
  s.on_input(Action::Allow, true, 0, false);
  s.on_input(Action::Allow, false, kFrame, false);
  auto in = s.on_input(Action::Blur, false, 2 * kFrame, false);
  BOOST_TEST(!in.forward);
  BOOST_TEST(!in.decode);  // a delta frame after only key frames: undecodable
  BOOST_TEST(in.request_keyframe);
  BOOST_TEST(s.output() == Output::Processed);
  BOOST_TEST(s.processing());
  BOOST_TEST(s.switches() == 1u);
  in = s.on_input(Action::Blur, false, 3 * kFrame, false);
  BOOST_TEST(!in.decode);
  BOOST_TEST(!in.request_keyframe);  // asked 33 ms ago
  in = s.on_input(Action::Blur, true, 4 * kFrame, false);
  BOOST_TEST(!in.forward);
  BOOST_TEST(in.decode);
  for (int i = 5; i < 20; ++i) {
    in = s.on_input(Action::Blur, false, i * kFrame, false);
    BOOST_TEST(!in.forward);
    BOOST_TEST(in.decode);  // every frame now
  }
  // The moderated frames after the switch are encoded, the ones before not.
  BOOST_TEST(!s.on_raw(kFrame));
  BOOST_TEST(s.on_raw(4 * kFrame));
}

BOOST_AUTO_TEST_CASE(the_encoders_output_starts_with_a_key_frame_and_stays_in_order) {
  OutputSwitch s = video();
  s.on_input(Action::Allow, true, 0, false);
  s.on_input(Action::Block, true, kFrame, false);
  auto out = s.on_encoded(false, kFrame);
  BOOST_TEST(!out.forward);
  BOOST_TEST(out.request_keyframe);
  BOOST_TEST(!s.on_encoded(false, 2 * kFrame).request_keyframe);  // asked already
  BOOST_TEST(s.on_encoded(true, 3 * kFrame).forward);
  BOOST_TEST(s.on_encoded(false, 4 * kFrame).forward);
  BOOST_TEST(!s.on_encoded(false, 4 * kFrame).forward);  // not newer than the last out
  BOOST_TEST(!s.on_raw(4 * kFrame));
  BOOST_TEST(s.on_raw(5 * kFrame));
}

BOOST_AUTO_TEST_CASE(allow_again_returns_to_the_publishers_frames_at_its_key_frame) {
  OutputSwitch s = video();
  s.on_input(Action::Allow, true, 0, false);
  s.on_input(Action::Blur, true, kFrame, false);
  BOOST_TEST(s.on_encoded(true, kFrame).forward);
  auto in = s.on_input(Action::Allow, false, 2 * kFrame, false);
  BOOST_TEST(!in.forward);
  BOOST_TEST(in.request_keyframe);
  BOOST_TEST(in.decode);  // the encoder keeps the outputs going meanwhile
  BOOST_TEST(s.output() == Output::Processed);
  BOOST_TEST(s.on_encoded(false, 2 * kFrame).forward);
  in = s.on_input(Action::Allow, true, 3 * kFrame, false);
  BOOST_TEST(in.forward);
  BOOST_TEST(in.decode);  // a key frame: a snapshot
  BOOST_TEST(s.output() == Output::Passthrough);
  BOOST_TEST(!s.processing());
  BOOST_TEST(s.switches() == 2u);
  // The encoder's late frames are dropped, the next deltas not decoded.
  BOOST_TEST(!s.on_encoded(false, 3 * kFrame).forward);
  BOOST_TEST(!s.on_raw(4 * kFrame));
  in = s.on_input(Action::Allow, false, 4 * kFrame, false);
  BOOST_TEST(in.forward);
  BOOST_TEST(!in.decode);
}

BOOST_AUTO_TEST_CASE(a_full_snapshot_path_skips_to_the_next_key_frame) {
  OutputSwitch s = video();
  s.on_input(Action::Block, true, 0, false);
  BOOST_TEST(s.on_input(Action::Block, false, kFrame, false).decode);
  auto in = s.on_input(Action::Block, false, 2 * kFrame, true);
  BOOST_TEST(!in.decode);
  BOOST_TEST(in.request_keyframe);
  BOOST_TEST(s.decode_dropped() == 1u);
  BOOST_TEST(!s.on_input(Action::Block, false, 3 * kFrame, false).decode);
  BOOST_TEST(s.on_input(Action::Block, true, 4 * kFrame, false).decode);
  BOOST_TEST(s.on_input(Action::Block, false, 5 * kFrame, false).decode);
}

BOOST_AUTO_TEST_CASE(end_sends_eos_once_and_nothing_after) {
  OutputSwitch s = video();
  s.on_input(Action::Allow, true, 0, false);
  auto in = s.on_input(Action::End, false, kFrame, false);
  BOOST_TEST(in.end);
  BOOST_TEST(!in.forward);
  in = s.on_input(Action::End, true, 2 * kFrame, false);
  BOOST_TEST(!in.end);
  BOOST_TEST(!in.forward);
  BOOST_TEST(in.decode);  // so the moderator sees a frame and applies end
  BOOST_TEST(!s.on_encoded(true, 2 * kFrame).forward);
  BOOST_TEST(!s.on_input(Action::Allow, true, 3 * kFrame, false).forward);
  BOOST_TEST(!s.processing());
}

BOOST_AUTO_TEST_CASE(audio_decodes_nothing_while_allowed_and_passes_blur) {
  OutputSwitch s = audio();
  for (int i = 0; i < 100; ++i) {
    auto in = s.on_input(i < 50 ? Action::Allow : Action::Blur, true, i * 20 * kMs, false);
    BOOST_TEST(in.forward);
    BOOST_TEST(!in.decode);
    BOOST_TEST(!in.request_keyframe);
  }
  auto in = s.on_input(Action::Block, true, 100 * 20 * kMs, false);
  BOOST_TEST(!in.forward);
  BOOST_TEST(in.decode);
  BOOST_TEST(s.processing());
  in = s.on_input(Action::Allow, true, 101 * 20 * kMs, false);
  BOOST_TEST(in.forward);  // every packet is a place to switch back
  BOOST_TEST(!s.processing());
}

BOOST_AUTO_TEST_CASE(h264_key_frames_are_access_units_with_an_idr_slice) {
  // avc, 4-byte lengths: SPS, PPS, IDR slice.
  const std::vector<uint8_t> idr = {0,    0,    0, 2, 0x67, 0x42, 0,    0,    0,   2,
                                    0x68, 0xce, 0, 0, 0,    3,    0x65, 0x88, 0x84};
  const std::vector<uint8_t> delta = {0, 0, 0, 3, 0x41, 0x9a, 0x02};
  BOOST_TEST(is_keyframe(Codec::H264, idr.data(), idr.size(), 4));
  BOOST_TEST(!is_keyframe(Codec::H264, delta.data(), delta.size(), 4));
  // A length running past the end: not a place to start decoding.
  std::vector<uint8_t> damaged = {0, 0, 0, 9, 0x65, 0x88};
  BOOST_TEST(!is_keyframe(Codec::H264, damaged.data(), damaged.size(), 4));
  BOOST_TEST(!is_keyframe(Codec::H264, nullptr, 0, 4));
  // 2-byte lengths.
  const std::vector<uint8_t> short_lengths = {0, 2, 0x41, 0x9a, 0, 2, 0x65, 0x88};
  BOOST_TEST(is_keyframe(Codec::H264, short_lengths.data(), short_lengths.size(), 2));
  // Byte-stream.
  const std::vector<uint8_t> annexb = {0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88};
  BOOST_TEST(is_keyframe(Codec::H264, annexb.data(), annexb.size(), 0));
  const std::vector<uint8_t> annexb_delta = {0, 0, 0, 1, 0x41, 0x9a};
  BOOST_TEST(!is_keyframe(Codec::H264, annexb_delta.data(), annexb_delta.size(), 0));
  // The avcC record's length size.
  const std::vector<uint8_t> avcc4 = {1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0};
  const std::vector<uint8_t> avcc2 = {1, 0x42, 0xc0, 0x1e, 0xfd, 0xe1, 0};
  BOOST_TEST(avc_nal_length_size(avcc4.data(), avcc4.size()) == 4);
  BOOST_TEST(avc_nal_length_size(avcc2.data(), avcc2.size()) == 2);
  BOOST_TEST(avc_nal_length_size(avcc2.data(), 3) == 4);
}

BOOST_AUTO_TEST_CASE(vp8_key_frames_carry_the_start_code) {
  const std::vector<uint8_t> key = {0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  std::vector<uint8_t> inter = key;
  inter[0] |= 1;
  BOOST_TEST(is_keyframe(Codec::VP8, key.data(), key.size(), 0));
  BOOST_TEST(!is_keyframe(Codec::VP8, inter.data(), inter.size(), 0));
  BOOST_TEST(!is_keyframe(Codec::VP8, key.data(), 6, 0));
  BOOST_TEST(is_keyframe(Codec::Opus, nullptr, 0, 0));
}
