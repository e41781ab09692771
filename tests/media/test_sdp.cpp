// The WHIP/WHEP parsers: trickle ICE fragments and offer planning (no sockets).
#define BOOST_TEST_MODULE media_sdp
#include <boost/test/unit_test.hpp>

#include "offer.h"
#include "sdpfrag.h"

using namespace livepipe::signaling::media;

namespace {

const char *kBrowserOffer =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 AA:BB\r\na=mid:0\r\n"
    "a=recvonly\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 102 127\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 AA:BB\r\na=mid:1\r\n"
    "a=recvonly\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:102 H264/90000\r\na=fmtp:102 "
    "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:127 H264/90000\r\na=rtcp-fb:127 nack pli\r\na=fmtp:127 "
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(trickle_fragment) {
  auto parsed = parse_sdpfrag(
      "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\n"
      "a=mid:0\r\na=candidate:1 1 UDP 2130706431 198.51.100.1 39132 typ host\r\n"
      "a=end-of-candidates\r\n");
  BOOST_REQUIRE(std::holds_alternative<SdpFrag>(parsed));
  const auto &frag = std::get<SdpFrag>(parsed);
  BOOST_TEST(frag.ice_ufrag == "EsAw");
  BOOST_TEST(frag.has_credentials());
  BOOST_REQUIRE(frag.media.size() == 1u);
  BOOST_TEST(frag.media[0].mid == "0");
  BOOST_TEST(frag.media[0].candidates.size() == 1u);
  BOOST_TEST(frag.media[0].end_of_candidates);
}

BOOST_AUTO_TEST_CASE(bad_fragments_say_why) {
  for (const char *text : {"", "hello", "a=ice-ufrag:ab", "a=ice-ufrag:abcd\n",
                           "a=candidate:1 1 UDP 1 127.0.0.1 1 typ host",
                           "m=audio 9 RTP/AVP 0\na=candidate:1 1 UDP 1 127.0.0.1 99999 typ host",
                           "m=audio 9 RTP/AVP 0\na=candidate:1 0 UDP 1 127.0.0.1 9 typ host",
                           "m=audio 9 RTP/AVP 0\na=candidate:1 1 UDP 1 127.0.0.1 9 typ weird"}) {
    auto parsed = parse_sdpfrag(text);
    BOOST_TEST(std::holds_alternative<std::string>(parsed), text);
  }
  BOOST_TEST(std::get<std::string>(parse_sdpfrag(std::string(70000, 'a'))).find("64 KiB") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(viewer_offer_picks_h264_mode_1_and_opus) {
  auto planned = plan_offer(kBrowserOffer, OfferRole::kPlay, {Codec::kH264}, {Codec::kOpus});
  BOOST_REQUIRE(std::holds_alternative<OfferPlan>(planned));
  const auto &plan = std::get<OfferPlan>(planned);
  BOOST_REQUIRE(plan.find("video"));
  BOOST_TEST(plan.find("video")->payload_type == 127);  // packetization-mode=1, not 102
  BOOST_TEST(plan.find("video")->mline == 1u);
  BOOST_TEST(plan.find("audio")->payload_type == 111);
  BOOST_TEST(plan.sdp.find("VP8") == std::string::npos);
  BOOST_TEST(plan.sdp.find("PCMU") == std::string::npos);
  BOOST_TEST(plan.sdp.find("rtcp-fb:127 nack pli") != std::string::npos);
  BOOST_TEST(plan.find("video")->caps().find("payload=127") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refusals_have_reasons) {
  auto reason = [](const char *sdp, OfferRole role, std::vector<Codec> video) {
    auto planned = plan_offer(sdp, role, video, {Codec::kOpus});
    return std::holds_alternative<std::string>(planned) ? std::get<std::string>(planned)
                                                        : std::string();
  };
  BOOST_TEST(reason("hello", OfferRole::kPlay, {Codec::kH264}).find("not SDP") !=
             std::string::npos);
  BOOST_TEST(reason(kBrowserOffer, OfferRole::kPublish, {Codec::kH264}).find("sendonly") !=
             std::string::npos);
  BOOST_TEST(reason(kBrowserOffer, OfferRole::kPlay, {}).find("no video") != std::string::npos);
  std::string no_mode1 = kBrowserOffer;
  no_mode1 = no_mode1.substr(0, no_mode1.find("a=rtpmap:127"));
  BOOST_TEST(reason(no_mode1.c_str(), OfferRole::kPlay, {Codec::kH264}).find("none of H.264") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(publisher_codec_follows_the_offer_order) {
  // kBrowserOffer lists VP8 first: a publisher gets its own preference among
  // what the description takes, whatever order the description lists them.
  auto vp8 = plan_offer(kBrowserOffer, OfferRole::kPlay, {Codec::kH264, Codec::kVP8},
                        {Codec::kOpus}, true);
  BOOST_REQUIRE(std::holds_alternative<OfferPlan>(vp8));
  const ChosenMedia *video = std::get<OfferPlan>(vp8).find("video");
  BOOST_REQUIRE(video);
  BOOST_TEST((video->codec == Codec::kVP8));
  BOOST_TEST(video->payload_type == 96);
  BOOST_TEST(video->caps().find("encoding-name=VP8") != std::string::npos);
  // A description without VP8: the offer's usable H.264 (mode 1), not mode 0.
  auto h264 = plan_offer(kBrowserOffer, OfferRole::kPlay, {Codec::kH264}, {Codec::kOpus}, true);
  BOOST_REQUIRE(std::holds_alternative<OfferPlan>(h264));
  BOOST_TEST(std::get<OfferPlan>(h264).find("video")->payload_type == 127);
  // The server's order when the client's does not count (a viewer).
  auto server =
      plan_offer(kBrowserOffer, OfferRole::kPlay, {Codec::kH264, Codec::kVP8}, {Codec::kOpus});
  BOOST_REQUIRE(std::holds_alternative<OfferPlan>(server));
  BOOST_TEST((std::get<OfferPlan>(server).find("video")->codec == Codec::kH264));
  // The reduced offer keeps only the chosen payload type.
  const std::string &sdp = std::get<OfferPlan>(vp8).sdp;
  BOOST_TEST(sdp.find("H264") == std::string::npos);
  BOOST_TEST(sdp.find("VP8/90000") != std::string::npos);
}
