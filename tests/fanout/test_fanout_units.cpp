// The shared-socket fan-out's parts without sockets: STUN, RTCP, the ICE-lite
// answer, and DTLS-SRTP between two sessions wired to each other in memory.
#define BOOST_TEST_MODULE fanout_units
#include <boost/test/unit_test.hpp>

#include "dtls.h"
#include "lite_sdp.h"
#include "rtcp.h"
#include "srtp_session.h"
#include "stun.h"
#include "stun_request.h"

#include <arpa/inet.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <cstring>
#include <deque>

using namespace livepipe::signaling;
using namespace livepipe::signaling::fanout;

namespace livepipe::signaling::fanout {
std::ostream &operator<<(std::ostream &out, DtlsSession::State state) {
  return out << "DTLS state " << static_cast<int>(state);
}
}  // namespace livepipe::signaling::fanout

namespace {

struct GstInit {
  GstInit() { gst_init(nullptr, nullptr); }
};
BOOST_GLOBAL_FIXTURE(GstInit);

sockaddr_storage ipv4(const char *address, uint16_t port) {
  sockaddr_storage out{};
  auto *in4 = reinterpret_cast<sockaddr_in *>(&out);
  in4->sin_family = AF_INET;
  in4->sin_port = htons(port);
  inet_pton(AF_INET, address, &in4->sin_addr);
  return out;
}

// A WHEP offer as Chromium writes one (reduced to what matters here).
const char *kChromiumOffer =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Zx9q\r\n"
    "a=ice-pwd:3Lt0hN4kFVq8m2u6D1bXyZa7\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:"
    "E8:F9\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 H264/90000\r\n"
    "a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Zx9q\r\n"
    "a=ice-pwd:3Lt0hN4kFVq8m2u6D1bXyZa7\r\n"
    "a=fingerprint:sha-256 "
    "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:"
    "E8:F9\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n";

media::OfferPlan plan_of(const std::string &offer) {
  auto plan = media::plan_offer(offer, media::OfferRole::kPlay, {media::Codec::kH264},
                                {media::Codec::kOpus});
  if (auto *why = std::get_if<std::string>(&plan)) {
    BOOST_FAIL("the offer was refused: " << *why);
  }
  return std::get<media::OfferPlan>(plan);
}

std::string replace_all(std::string text, const std::string &from, const std::string &to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stun)

BOOST_AUTO_TEST_CASE(crc32_check_value) {
  // The CRC-32 check value of "123456789" (ISO 3309, as zlib computes it).
  const char *text = "123456789";
  BOOST_TEST(crc32(reinterpret_cast<const uint8_t *>(text), 9) == 0xCBF43926u);
}

BOOST_AUTO_TEST_CASE(classifies_by_first_byte) {
  uint8_t stun[] = {0x00, 0x01};
  uint8_t dtls[] = {22, 0xFE};
  uint8_t rtp[] = {0x80, 96};
  uint8_t other[] = {70};
  BOOST_TEST(int(classify(stun, 2)) == int(PacketKind::kStun));
  BOOST_TEST(int(classify(dtls, 2)) == int(PacketKind::kDtls));
  BOOST_TEST(int(classify(rtp, 2)) == int(PacketKind::kRtp));
  BOOST_TEST(int(classify(other, 1)) == int(PacketKind::kUnknown));
  BOOST_TEST(int(classify(other, 0)) == int(PacketKind::kUnknown));
}

BOOST_AUTO_TEST_CASE(reads_a_binding_request_and_checks_its_integrity) {
  test::StunRequest request;
  request.username = "srv1:cli1";
  request.use_candidate = true;
  request.priority = 1853824767;
  auto packet = test::binding_request(request, "server-password-0123456");
  std::string error;
  auto message = parse_stun(packet.data(), packet.size(), &error);
  BOOST_REQUIRE_MESSAGE(message, error);
  BOOST_TEST(message->is_binding_request());
  BOOST_TEST(message->username == "srv1:cli1");
  BOOST_TEST(message->use_candidate);
  BOOST_TEST(message->ice_controlling);
  BOOST_TEST(!message->ice_controlled);
  BOOST_TEST(message->priority == 1853824767u);
  BOOST_TEST(message->has_integrity);
  BOOST_TEST(message->has_fingerprint);
  BOOST_TEST(check_integrity(packet.data(), packet.size(), *message, "server-password-0123456"));
  BOOST_TEST(!check_integrity(packet.data(), packet.size(), *message, "another-password-012345"));
  BOOST_TEST(!check_integrity(packet.data(), packet.size(), *message, ""));
}

BOOST_AUTO_TEST_CASE(a_changed_byte_fails_the_fingerprint_or_the_integrity) {
  test::StunRequest request;
  request.username = "srv1:cli1";
  auto packet = test::binding_request(request, "pw-pw-pw-pw-pw-pw-pw-pw");
  std::string error;
  auto changed = packet;
  changed[21] ^= 0x01;  // inside the first attribute
  BOOST_TEST(!parse_stun(changed.data(), changed.size(), &error));
  BOOST_TEST(error == "FINGERPRINT does not match");
  // Without a fingerprint the change is caught by MESSAGE-INTEGRITY.
  request.fingerprint = false;
  packet = test::binding_request(request, "pw-pw-pw-pw-pw-pw-pw-pw");
  changed = packet;
  changed[25] ^= 0x20;
  auto message = parse_stun(changed.data(), changed.size(), &error);
  BOOST_REQUIRE(message);
  BOOST_TEST(!check_integrity(changed.data(), changed.size(), *message, "pw-pw-pw-pw-pw-pw-pw-pw"));
}

BOOST_AUTO_TEST_CASE(refuses_malformed_messages) {
  test::StunRequest request;
  request.username = "a:b";
  auto good = test::binding_request(request, "password-password-pass");
  std::string error;
  BOOST_TEST(!parse_stun(good.data(), 19, &error));
  BOOST_TEST(error == "shorter than a STUN header");
  auto bad = good;
  bad[4] = 0;  // magic cookie
  BOOST_TEST(!parse_stun(bad.data(), bad.size(), &error));
  BOOST_TEST(error == "no magic cookie");
  bad = good;
  bad[3] += 4;  // length past the packet
  BOOST_TEST(!parse_stun(bad.data(), bad.size(), &error));
  BOOST_TEST(error == "the length does not match the packet");
  bad = good;
  bad[0] = 0x40;
  BOOST_TEST(!parse_stun(bad.data(), bad.size(), &error));
  // An attribute whose length runs past the end.
  std::vector<uint8_t> runs = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42, 1,  2,
                               3,    4,    5,    6,    7,    8,    9,    10,   11, 12,
                               0,    6,    0,    9,    'a',  'b',  'c',  'd'};
  BOOST_TEST(!parse_stun(runs.data(), runs.size(), &error));
  BOOST_TEST(error == "an attribute runs past the end");
}

BOOST_AUTO_TEST_CASE(lists_unknown_comprehension_required_attributes) {
  test::StunRequest request;
  request.username = "a:b";
  request.extra_attribute = 0x0031;  // comprehension-required, unknown here
  auto packet = test::binding_request(request, "password-password-pass");
  std::string error;
  auto message = parse_stun(packet.data(), packet.size(), &error);
  BOOST_REQUIRE(message);
  BOOST_TEST(message->unknown_required.size() == 1u);
  request.extra_attribute = 0xC057;  // comprehension-optional: ignored
  packet = test::binding_request(request, "password-password-pass");
  message = parse_stun(packet.data(), packet.size(), &error);
  BOOST_REQUIRE(message);
  BOOST_TEST(message->unknown_required.empty());
}

BOOST_AUTO_TEST_CASE(answers_with_the_mapped_address_signed) {
  std::array<uint8_t, 12> transaction = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  auto reply = binding_success(transaction, ipv4("192.0.2.33", 40123), "the-password-of-server");
  std::string error;
  auto message = parse_stun(reply.data(), reply.size(), &error);
  BOOST_REQUIRE_MESSAGE(message, error);
  BOOST_TEST(message->type == 0x0101);
  BOOST_TEST(message->transaction == transaction);
  BOOST_TEST(message->has_fingerprint);
  BOOST_TEST(check_integrity(reply.data(), reply.size(), *message, "the-password-of-server"));
  // XOR-MAPPED-ADDRESS is the first attribute: family, port and address
  // XORed with the magic cookie.
  BOOST_REQUIRE(reply.size() > 32);
  BOOST_TEST((reply[20] << 8 | reply[21]) == 0x0020);
  BOOST_TEST(reply[25] == 0x01);
  uint16_t port = static_cast<uint16_t>((reply[26] << 8 | reply[27]) ^ 0x2112);
  BOOST_TEST(port == 40123);
  uint32_t address = (uint32_t(reply[28]) << 24 | uint32_t(reply[29]) << 16 |
                      uint32_t(reply[30]) << 8 | reply[31]) ^
                     kStunMagicCookie;
  BOOST_TEST(address == 0xC0000221u);  // 192.0.2.33
  auto refused = binding_error(transaction, 487, "Role Conflict", "the-password-of-server");
  message = parse_stun(refused.data(), refused.size(), &error);
  BOOST_REQUIRE(message);
  BOOST_TEST(message->type == 0x0111);
  BOOST_TEST(check_integrity(refused.data(), refused.size(), *message, "the-password-of-server"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtcp)

BOOST_AUTO_TEST_CASE(reads_pli_fir_nack_and_receiver_reports) {
  std::vector<uint8_t> packet = {
      // RR from SSRC 1 with one block on SSRC 0x11223344: fraction 25,
      // cumulative lost -2 (24-bit signed), highest 70000, jitter 9.
      0x81, 201, 0, 7, 0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44, 25, 0xFF, 0xFF, 0xFE, 0, 1, 0x11, 0x70,
      0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
      // PLI for 0x11223344.
      0x81, 206, 0, 2, 0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44,
      // FIR naming 0x55667788.
      0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 1, 0, 0, 0,
      // NACK of 100 and, by the bitmask, 101 and 116.
      0x81, 205, 0, 3, 0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44, 0, 100, 0x80, 0x01};
  RtcpFeedback feedback;
  std::string error;
  BOOST_REQUIRE_MESSAGE(parse_rtcp(packet.data(), packet.size(), &feedback, &error), error);
  BOOST_REQUIRE(feedback.reports.size() == 1u);
  BOOST_TEST(feedback.reports[0].ssrc == 0x11223344u);
  BOOST_TEST(feedback.reports[0].fraction_lost == 25);
  BOOST_TEST(feedback.reports[0].cumulative_lost == -2);
  BOOST_TEST(feedback.reports[0].highest_sequence == 70000u);
  BOOST_TEST(feedback.reports[0].jitter == 9u);
  BOOST_TEST(feedback.keyframe_requests == (std::vector<uint32_t>{0x11223344u, 0x55667788u}));
  std::vector<std::pair<uint32_t, uint16_t>> nacks = {
      {0x11223344u, 100}, {0x11223344u, 101}, {0x11223344u, 116}};
  BOOST_TEST((feedback.nacks == nacks));
}

BOOST_AUTO_TEST_CASE(refuses_malformed_packets) {
  RtcpFeedback feedback;
  std::string error;
  std::vector<uint8_t> version1 = {0x41, 201, 0, 1, 0, 0, 0, 1};
  BOOST_TEST(!parse_rtcp(version1.data(), version1.size(), &feedback, &error));
  BOOST_TEST(error == "RTCP version is not 2");
  std::vector<uint8_t> too_long = {0x81, 206, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2};
  BOOST_TEST(!parse_rtcp(too_long.data(), too_long.size(), &feedback, &error));
  BOOST_TEST(error == "an RTCP packet runs past the end");
  std::vector<uint8_t> blocks = {0x83, 201, 0, 1, 0, 0, 0, 1};  // three blocks promised
  BOOST_TEST(!parse_rtcp(blocks.data(), blocks.size(), &feedback, &error));
  BOOST_TEST(feedback.reports.empty());
}

BOOST_AUTO_TEST_CASE(writes_a_sender_report_with_its_cname) {
  SenderReport report;
  report.ssrc = 0xAABBCCDD;
  report.ntp = ntp_from_unix_us(1500000);  // 1.5 s after the Unix epoch
  report.rtp_timestamp = 123456;
  report.packets = 10;
  report.octets = 12000;
  auto packet = sender_report(report, "livepipe-abc");
  BOOST_TEST(packet.size() % 4 == 0u);
  BOOST_TEST(packet[1] == 200);
  // NTP seconds: 2208988800 + 1, fraction 0.5.
  uint32_t seconds = uint32_t(packet[8]) << 24 | uint32_t(packet[9]) << 16 |
                     uint32_t(packet[10]) << 8 | packet[11];
  uint32_t fraction = uint32_t(packet[12]) << 24 | uint32_t(packet[13]) << 16 |
                      uint32_t(packet[14]) << 8 | packet[15];
  BOOST_TEST(seconds == 2208988801u);
  BOOST_TEST(fraction == 0x80000000u);
  // The SDES follows the 28-byte SR and holds the CNAME.
  BOOST_TEST(packet[29] == 202);
  std::string cname(packet.begin() + 38, packet.begin() + 38 + packet[37]);
  BOOST_TEST(cname == "livepipe-abc");
  RtcpFeedback feedback;
  std::string error;
  BOOST_TEST(parse_rtcp(packet.data(), packet.size(), &feedback, &error));
  auto goodbye = bye(0xAABBCCDD);
  BOOST_TEST(parse_rtcp(goodbye.data(), goodbye.size(), &feedback, &error));
  BOOST_TEST(feedback.bye);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sdp)

BOOST_AUTO_TEST_CASE(reads_the_viewers_transport) {
  auto plan = plan_of(kChromiumOffer);
  auto read = read_offer_transport(plan);
  if (auto *why = std::get_if<std::string>(&read)) {
    BOOST_FAIL("the transport was refused: " << *why);
  }
  const auto &transport = std::get<OfferTransport>(read);
  BOOST_TEST(transport.ufrag == "Zx9q");
  BOOST_TEST(transport.pwd == "3Lt0hN4kFVq8m2u6D1bXyZa7");
  BOOST_REQUIRE(transport.fingerprints.size() == 1u);
  BOOST_TEST(transport.fingerprints[0].algorithm == "sha-256");
  BOOST_TEST(transport.fingerprints[0].value.rfind("0A:1B:2C", 0) == 0u);
  BOOST_TEST(transport.dtls_client);  // actpass: the viewer starts DTLS
  BOOST_TEST(transport.rtcp_rsize);
  auto passive = plan_of(replace_all(kChromiumOffer, "a=setup:actpass", "a=setup:passive"));
  BOOST_TEST(!std::get<OfferTransport>(read_offer_transport(passive)).dtls_client);
}

BOOST_AUTO_TEST_CASE(refuses_what_one_bundled_transport_cannot_serve) {
  auto unbundled = plan_of(replace_all(kChromiumOffer, "a=group:BUNDLE 0 1\r\n", ""));
  auto read = read_offer_transport(unbundled);
  BOOST_REQUIRE(std::holds_alternative<std::string>(read));
  BOOST_TEST(std::get<std::string>(read).find("bundle") != std::string::npos);
  auto no_mux = plan_of(replace_all(kChromiumOffer, "a=rtcp-mux\r\n", ""));
  read = read_offer_transport(no_mux);
  BOOST_REQUIRE(std::holds_alternative<std::string>(read));
  BOOST_TEST(std::get<std::string>(read).find("rtcp-mux") != std::string::npos);
  auto bad_setup = plan_of(replace_all(kChromiumOffer, "a=setup:actpass", "a=setup:holdconn"));
  BOOST_TEST(std::holds_alternative<std::string>(read_offer_transport(bad_setup)));
}

BOOST_AUTO_TEST_CASE(answers_as_an_ice_lite_sender) {
  auto plan = plan_of(kChromiumOffer);
  LiteAnswer answer;
  answer.ufrag = "srvU";
  answer.pwd = "serverpasswordserverpass";
  answer.fingerprint = {"sha-256", "AA:BB"};
  answer.candidates = {host_candidate(0, "127.0.0.1", 40000), host_candidate(1, "::1", 40000)};
  answer.cname = "cn";
  answer.stream_id = "livepipe";
  answer.video_ssrc = 1111;
  answer.audio_ssrc = 2222;
  answer.session_id = 77;
  std::string text = lite_answer(plan, answer);
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new(&sdp);
  BOOST_REQUIRE(gst_sdp_message_parse_buffer(reinterpret_cast<const guint8 *>(text.data()),
                                             static_cast<guint>(text.size()), sdp) == GST_SDP_OK);
  BOOST_TEST(gst_sdp_message_get_attribute_val(sdp, "ice-lite") != nullptr);
  BOOST_TEST(std::string(gst_sdp_message_get_attribute_val(sdp, "group")) == "BUNDLE 0 1");
  BOOST_REQUIRE(gst_sdp_message_medias_len(sdp) == 2u);
  const GstSDPMedia *video = gst_sdp_message_get_media(sdp, 0);
  BOOST_TEST(std::string(gst_sdp_media_get_format(video, 0)) == "103");  // 42e01f wins
  BOOST_TEST(gst_sdp_media_formats_len(video) == 1u);
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val(video, "setup")) == "passive");
  BOOST_TEST(gst_sdp_media_get_attribute_val(video, "sendonly") != nullptr);
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val(video, "ice-ufrag")) == "srvU");
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val(video, "candidate")) ==
             "1 1 udp 2130706431 127.0.0.1 40000 typ host");
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val_n(video, "candidate", 1)) ==
             "2 1 udp 2130706175 ::1 40000 typ host");
  // Only the feedback this sender acts on: no goog-remb, no transport-cc.
  bool remb = false;
  int feedback = 0;
  for (guint i = 0; i < gst_sdp_media_attributes_len(video); ++i) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(video, i);
    if (!std::strcmp(a->key, "rtcp-fb")) {
      ++feedback;
      remb = remb || std::strstr(a->value, "remb");
    }
  }
  BOOST_TEST(!remb);
  BOOST_TEST(feedback == 0);  // 103 lists none of its own; "nack pli" was 102's
  const GstSDPMedia *audio = gst_sdp_message_get_media(sdp, 1);
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val(audio, "rtpmap")) == "111 opus/48000/2");
  BOOST_TEST(std::string(gst_sdp_media_get_attribute_val(audio, "ssrc")) == "2222 cname:cn");
  gst_sdp_message_free(sdp);
}

BOOST_AUTO_TEST_CASE(rejects_the_m_lines_it_does_not_serve) {
  // The offer's audio replaced by a rejected application m-line: answered
  // with port 0 and left out of the bundle.
  std::string offer = kChromiumOffer;
  offer = offer.substr(0, offer.find("m=audio")) +
          "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
          "a=ice-ufrag:Zx9q\r\na=ice-pwd:3Lt0hN4kFVq8m2u6D1bXyZa7\r\n"
          "a=fingerprint:sha-256 0A:1B\r\na=mid:2\r\n";
  auto video_only = media::plan_offer(offer, media::OfferRole::kPlay, {media::Codec::kVP8},
                                      {media::Codec::kOpus});
  if (auto *why = std::get_if<std::string>(&video_only)) {
    BOOST_FAIL("the offer was refused: " << *why);
  }
  LiteAnswer answer;
  answer.ufrag = "u";
  answer.pwd = "p";
  answer.fingerprint = {"sha-256", "AA"};
  std::string text = lite_answer(std::get<media::OfferPlan>(video_only), answer);
  BOOST_TEST(text.find("m=application 0 ") != std::string::npos);
  BOOST_TEST(text.find("a=group:BUNDLE 0\r\n") != std::string::npos);
  BOOST_TEST(text.find("a=rtcp-fb:96 nack pli\r\n") != std::string::npos);
  BOOST_TEST(text.find("a=rtcp-fb:96 transport-cc") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(ice_strings_are_random_and_legal) {
  std::string a = random_ice_string(24);
  std::string b = random_ice_string(24);
  BOOST_TEST(a.size() == 24u);
  BOOST_TEST(a != b);
  for (char c : a) {
    BOOST_TEST((std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dtls_srtp)

// Two sessions whose datagrams go to each other through queues.
struct Pair {
  std::shared_ptr<DtlsIdentity> server_identity;
  std::shared_ptr<DtlsIdentity> client_identity;
  std::deque<std::vector<uint8_t>> to_server;
  std::deque<std::vector<uint8_t>> to_client;
  std::unique_ptr<DtlsSession> server;
  std::unique_ptr<DtlsSession> client;
  bool drop_first_server_flight = false;

  Pair() {
    std::string error;
    server_identity = DtlsIdentity::create(&error);
    client_identity = DtlsIdentity::create(&error);
    BOOST_REQUIRE_MESSAGE(server_identity && client_identity, error);
    server =
        std::make_unique<DtlsSession>(server_identity, false, [this](const uint8_t *d, size_t n) {
          if (drop_first_server_flight) {
            return;
          }
          to_client.emplace_back(d, d + n);
        });
    client = std::make_unique<DtlsSession>(
        client_identity, true,
        [this](const uint8_t *d, size_t n) { to_server.emplace_back(d, d + n); });
  }

  // Delivers queued datagrams both ways, a bounded number of times.
  void run(int rounds = 50) {
    for (int i = 0; i < rounds && (!to_server.empty() || !to_client.empty()); ++i) {
      while (!to_server.empty()) {
        auto d = std::move(to_server.front());
        to_server.pop_front();
        server->receive(d.data(), d.size());
      }
      while (!to_client.empty()) {
        auto d = std::move(to_client.front());
        to_client.pop_front();
        client->receive(d.data(), d.size());
      }
    }
  }
};

BOOST_AUTO_TEST_CASE(handshake_agrees_on_keys_and_checks_fingerprints) {
  Pair pair;
  BOOST_TEST(pair.server_identity->fingerprint().algorithm == "sha-256");
  BOOST_TEST(pair.server_identity->fingerprint().value.size() == 95u);  // 32 hex pairs
  pair.client->start();
  pair.run();
  BOOST_REQUIRE(pair.server->state() == DtlsSession::State::kConnected);
  BOOST_REQUIRE(pair.client->state() == DtlsSession::State::kConnected);
  const auto &server_keys = *pair.server->keys();
  const auto &client_keys = *pair.client->keys();
  BOOST_TEST(int(server_keys.profile) == int(client_keys.profile));
  BOOST_TEST(server_keys.local == client_keys.remote);
  BOOST_TEST(server_keys.remote == client_keys.local);
  BOOST_TEST(server_keys.local != server_keys.remote);
  BOOST_TEST(pair.server->peer_matches({pair.client_identity->fingerprint()}));
  BOOST_TEST(pair.client->peer_matches({pair.server_identity->fingerprint()}));
  BOOST_TEST(!pair.server->peer_matches({pair.server_identity->fingerprint()}));
  BOOST_TEST(!pair.server->peer_matches({{"md5", pair.client_identity->fingerprint().value}}));

  // SRTP keyed from the handshake: what one side protects the other reads,
  // and a changed byte is refused.
  SrtpSession server_srtp;
  SrtpSession client_srtp;
  std::string error;
  BOOST_REQUIRE_MESSAGE(server_srtp.start(server_keys, &error), error);
  BOOST_REQUIRE_MESSAGE(client_srtp.start(client_keys, &error), error);
  uint8_t rtp[200 + kSrtpMaxOverhead] = {0x80, 96, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 42};
  for (int i = 12; i < 200; ++i) {
    rtp[i] = static_cast<uint8_t>(i);
  }
  uint8_t original[200];
  std::memcpy(original, rtp, 200);
  int size = 200;
  BOOST_REQUIRE(server_srtp.protect_rtp(rtp, &size));
  BOOST_TEST(size > 200);
  BOOST_TEST(std::memcmp(rtp + 12, original + 12, 188) != 0);
  uint8_t copy[200 + kSrtpMaxOverhead];
  std::memcpy(copy, rtp, static_cast<size_t>(size));
  int copy_size = size;
  copy[100] ^= 1;
  BOOST_TEST(!client_srtp.unprotect_rtp(copy, &copy_size));
  BOOST_REQUIRE(client_srtp.unprotect_rtp(rtp, &size));
  BOOST_TEST(size == 200);
  BOOST_TEST(std::memcmp(rtp, original, 200) == 0);

  uint8_t rtcp[64 + kSrtpMaxOverhead] = {0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 42};
  int rtcp_size = 12;
  BOOST_REQUIRE(client_srtp.protect_rtcp(rtcp, &rtcp_size));
  BOOST_REQUIRE(server_srtp.unprotect_rtcp(rtcp, &rtcp_size));
  BOOST_TEST(rtcp_size == 12);
  BOOST_TEST(rtcp[1] == 206);

  // close_notify ends the peer's session.
  pair.server->close();
  pair.run();
  BOOST_TEST(int(pair.client->state()) == int(DtlsSession::State::kClosed));
}

BOOST_AUTO_TEST_CASE(a_lost_flight_is_sent_again) {
  Pair pair;
  pair.drop_first_server_flight = true;
  pair.client->start();
  pair.run();
  BOOST_TEST(pair.server->state() == DtlsSession::State::kHandshaking);
  pair.drop_first_server_flight = false;
  // The client's timer runs out (about a second) and it sends its flight
  // again; the server answers this time.
  for (int i = 0; i < 40 && pair.client->state() != DtlsSession::State::kConnected; ++i) {
    g_usleep(100 * 1000);
    pair.client->on_timer();
    pair.server->on_timer();
    pair.run();
  }
  BOOST_TEST(pair.client->state() == DtlsSession::State::kConnected);
}

BOOST_AUTO_TEST_CASE(garbage_fails_the_handshake) {
  Pair pair;
  std::vector<uint8_t> junk(80, 0x16);
  junk[1] = 0xFE;
  junk[2] = 0xFD;
  pair.server->receive(junk.data(), junk.size());
  pair.server->receive(junk.data(), junk.size());
  BOOST_TEST(pair.server->state() != DtlsSession::State::kConnected);
}

BOOST_AUTO_TEST_CASE(srtp_takes_keys_of_its_profile_once) {
  SrtpSession srtp;
  SrtpKeys keys;
  keys.local = std::vector<uint8_t>(28, 1);  // the GCM size, not AES-CM's 30
  keys.remote = std::vector<uint8_t>(30, 2);
  std::string error;
  BOOST_TEST(!srtp.start(keys, &error));
  BOOST_TEST(error == "SRTP keys of 28 and 30 bytes; this profile takes 30");
  keys.local.resize(30, 1);
  BOOST_TEST(srtp.start(keys, &error));
  BOOST_TEST(!srtp.start(keys, &error));
  BOOST_TEST(error == "SRTP is already keyed");
  uint8_t tiny[4 + kSrtpMaxOverhead] = {0x80, 96, 0, 1};
  int size = 4;
  BOOST_TEST(!srtp.protect_rtp(tiny, &size));  // shorter than an RTP header
}

BOOST_AUTO_TEST_SUITE_END()
