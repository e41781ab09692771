// The fan-out engine on loopback against a stand-in viewer built from the
// same parts a browser has: a UDP socket, STUN checks as a controlling ICE
// agent, a DTLS client and SRTP. Every wait is bounded.
#define BOOST_TEST_MODULE fanout_engine
#include <boost/test/unit_test.hpp>

#include "engine.h"
#include "rtcp.h"
#include "srtp_session.h"
#include "stun.h"
#include "stun_request.h"

#include <arpa/inet.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>

using namespace livepipe::signaling;
using namespace livepipe::signaling::fanout;

namespace {

struct GstInit {
  GstInit() { gst_init(nullptr, nullptr); }
};
BOOST_GLOBAL_FIXTURE(GstInit);

std::string offer_with(const Fingerprint &fingerprint) {
  return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\nc=IN IP4 0.0.0.0\r\n"
         "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpass\r\n"
         "a=fingerprint:" +
         fingerprint.algorithm + " " + fingerprint.value +
         "\r\na=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n"
         "a=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n"
         "a=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\n"
         "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
         "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpass\r\n"
         "a=fingerprint:" +
         fingerprint.algorithm + " " + fingerprint.value +
         "\r\na=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\n"
         "a=rtpmap:111 opus/48000/2\r\n";
}

std::string sdp_value(const std::string &sdp, const std::string &key) {
  size_t at = sdp.find("a=" + key + ":");
  if (at == std::string::npos) {
    return {};
  }
  at += key.size() + 3;
  return sdp.substr(at, sdp.find("\r\n", at) - at);
}

GstBuffer *rtp_packet(uint8_t pt, uint16_t seq, uint32_t timestamp, uint32_t ssrc, size_t payload,
                      uint8_t fill) {
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, 12 + payload, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  uint8_t *p = map.data;
  p[0] = 0x80;
  p[1] = pt;
  p[2] = static_cast<uint8_t>(seq >> 8);
  p[3] = static_cast<uint8_t>(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<uint8_t>(timestamp >> (24 - 8 * i));
    p[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  }
  std::memset(p + 12, fill, payload);
  gst_buffer_unmap(buffer, &map);
  return buffer;
}

uint32_t read32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// What the engine reports about the peer, from its thread.
struct Observed {
  std::mutex mutex;
  std::condition_variable changed;
  int keyframes = 0;
  std::string closed;

  Peer::Events events() {
    Peer::Events e;
    e.keyframe = [this] {
      std::lock_guard lock(mutex);
      ++keyframes;
      changed.notify_all();
    };
    e.closed = [this](const std::string &reason) {
      std::lock_guard lock(mutex);
      closed = reason;
      changed.notify_all();
    };
    return e;
  }
  template <typename Pred>
  bool wait(Pred pred, int ms) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::milliseconds(ms), pred);
  }
};

// The stand-in viewer.
struct Viewer {
  int fd = -1;
  sockaddr_in server{};
  std::string server_ufrag;
  std::string server_pwd;
  std::shared_ptr<DtlsIdentity> identity;
  std::unique_ptr<DtlsSession> dtls;
  SrtpSession srtp;

  Viewer() {
    std::string error;
    identity = DtlsIdentity::create(&error);
    BOOST_REQUIRE_MESSAGE(identity, error);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&local), sizeof local) == 0);
  }
  ~Viewer() { close(fd); }

  void use_answer(const std::string &answer) {
    server_ufrag = sdp_value(answer, "ice-ufrag");
    server_pwd = sdp_value(answer, "ice-pwd");
    // "1 1 udp PRIORITY 127.0.0.1 PORT typ host"
    std::string candidate = sdp_value(answer, "candidate");
    char address[64] = {};
    unsigned port = 0;
    BOOST_REQUIRE(std::sscanf(candidate.c_str(), "%*s %*s %*s %*s %63s %u", address, &port) == 2);
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, address, &server.sin_addr);
  }
  void send(const uint8_t *data, size_t size) {
    sendto(fd, data, size, 0, reinterpret_cast<sockaddr *>(&server), sizeof server);
  }
  // One datagram within `ms`, or empty.
  std::vector<uint8_t> receive(int ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) {
      return {};
    }
    std::vector<uint8_t> data(2048);
    ssize_t n = recv(fd, data.data(), data.size(), 0);
    data.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return data;
  }
  std::vector<uint8_t> check(const std::string &ufrag, const std::string &pwd,
                             bool use_candidate = true) {
    test::StunRequest request;
    request.username = ufrag + ":cli1";
    request.use_candidate = use_candidate;
    auto packet = test::binding_request(request, pwd);
    send(packet.data(), packet.size());
    for (int i = 0; i < 20; ++i) {
      auto reply = receive(500);
      if (reply.empty() || classify(reply.data(), reply.size()) == PacketKind::kStun) {
        return reply;
      }
    }
    return {};
  }
  // Runs the DTLS handshake to the end (bounded).
  bool connect() {
    dtls = std::make_unique<DtlsSession>(identity, true,
                                         [this](const uint8_t *d, size_t n) { send(d, n); });
    dtls->start();
    for (int i = 0; i < 100 && dtls->state() == DtlsSession::State::kHandshaking; ++i) {
      auto data = receive(100);
      if (!data.empty() && classify(data.data(), data.size()) == PacketKind::kDtls) {
        dtls->receive(data.data(), data.size());
      }
      dtls->on_timer();
    }
    if (dtls->state() != DtlsSession::State::kConnected) {
      return false;
    }
    std::string error;
    return srtp.start(*dtls->keys(), &error);
  }
  // The next SRTP packet (RTP, not RTCP) decrypted, within `ms`.
  std::vector<uint8_t> next_rtp(int ms) {
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end) {
      auto data = receive(50);
      if (data.size() < 12 || classify(data.data(), data.size()) != PacketKind::kRtp ||
          (data[1] >= 192 && data[1] <= 223)) {
        continue;
      }
      int size = static_cast<int>(data.size());
      data.resize(data.size() + kSrtpMaxOverhead);
      if (srtp.unprotect_rtp(data.data(), &size)) {
        data.resize(static_cast<size_t>(size));
        return data;
      }
    }
    return {};
  }
  // The next SRTCP packet decrypted, within `ms`.
  std::vector<uint8_t> next_rtcp(int ms) {
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end) {
      auto data = receive(50);
      if (data.size() < 8 || data[1] < 192 || data[1] > 223) {
        if (!data.empty() && dtls && classify(data.data(), data.size()) == PacketKind::kDtls) {
          dtls->receive(data.data(), data.size());
        }
        continue;
      }
      int size = static_cast<int>(data.size());
      data.resize(data.size() + kSrtpMaxOverhead);
      if (srtp.unprotect_rtcp(data.data(), &size)) {
        data.resize(static_cast<size_t>(size));
        return data;
      }
    }
    return {};
  }
  void send_rtcp(std::vector<uint8_t> packet) {
    int size = static_cast<int>(packet.size());
    packet.resize(packet.size() + kSrtpMaxOverhead);
    BOOST_REQUIRE(srtp.protect_rtcp(packet.data(), &size));
    send(packet.data(), static_cast<size_t>(size));
  }
};

struct Setup {
  std::shared_ptr<Engine> engine;
  Viewer viewer;
  Observed observed;
  std::shared_ptr<Peer> peer;
  std::string answer;

  explicit Setup(EngineOptions options = {}, const Fingerprint *claimed = nullptr) {
    if (options.addresses.empty()) {
      options.addresses = {"127.0.0.1"};
    }
    std::string error;
    engine = Engine::start(options, &error);
    BOOST_REQUIRE_MESSAGE(engine, error);
    auto plan =
        media::plan_offer(offer_with(claimed ? *claimed : viewer.identity->fingerprint()),
                          media::OfferRole::kPlay, {media::Codec::kH264}, {media::Codec::kOpus});
    BOOST_REQUIRE(std::holds_alternative<media::OfferPlan>(plan));
    peer =
        engine->add_peer(std::get<media::OfferPlan>(plan), "livepipe", observed.events(), &error);
    BOOST_REQUIRE_MESSAGE(peer, error);
    answer = peer->answer();
    viewer.use_answer(answer);
  }
  uint32_t ssrc(const char *kind) {
    std::string marker = std::string(" msid:livepipe ") + kind;
    size_t at = answer.find(marker);
    size_t start = answer.rfind("a=ssrc:", at) + 7;
    return static_cast<uint32_t>(std::stoul(answer.substr(start)));
  }
  void connect() {
    auto reply = viewer.check(viewer.server_ufrag, viewer.server_pwd);
    BOOST_REQUIRE(!reply.empty());
    BOOST_REQUIRE(viewer.connect());
    BOOST_REQUIRE(observed.wait([&] { return observed.keyframes > 0; }, 2000));
    BOOST_REQUIRE(peer->connected());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(answers_checks_only_with_the_right_credentials) {
  Setup s;
  BOOST_TEST(s.engine->port() != 0);
  BOOST_TEST(s.answer.find("a=ice-lite") != std::string::npos);
  BOOST_TEST(s.answer.find("127.0.0.1 " + std::to_string(s.engine->port()) + " typ host") !=
             std::string::npos);
  // Nobody the engine knows: no answer at all.
  auto nothing = s.viewer.check("nobody", "whatever-password-at-all");
  BOOST_TEST(nothing.empty());
  // The right ufrag, the wrong password: 401.
  auto refused = s.viewer.check(s.viewer.server_ufrag, "the-wrong-password-here");
  BOOST_REQUIRE(!refused.empty());
  std::string error;
  auto message = parse_stun(refused.data(), refused.size(), &error);
  BOOST_REQUIRE(message);
  BOOST_TEST(message->type == 0x0111);
  // The right credentials: success, signed with the server's password.
  auto reply = s.viewer.check(s.viewer.server_ufrag, s.viewer.server_pwd);
  BOOST_REQUIRE(!reply.empty());
  message = parse_stun(reply.data(), reply.size(), &error);
  BOOST_REQUIRE_MESSAGE(message, error);
  BOOST_TEST(message->type == 0x0101);
  BOOST_TEST(check_integrity(reply.data(), reply.size(), *message, s.viewer.server_pwd));
}

BOOST_AUTO_TEST_CASE(a_connected_viewer_receives_rtp_with_its_own_payload_types) {
  Setup s;
  s.connect();
  const uint32_t video_ssrc = s.ssrc("video");
  const uint32_t audio_ssrc = s.ssrc("audio");
  BOOST_TEST(video_ssrc != audio_ssrc);
  // The stream payloads with its own types (96, 97) and SSRC; the viewer
  // gets the offer's types (102, 111) and the SSRCs of the answer.
  // Sequence 999 reaches the viewer's socket but is dropped unread: lost.
  GstBuffer *lost = rtp_packet(96, 999, 87000, 0xDEADBEEF, 900, 0x5A);
  s.peer->push("video", lost);
  gst_buffer_unref(lost);
  for (int i = 0; i < 20; ++i) {
    auto data = s.viewer.receive(500);
    if (data.size() > 12 && data[1] < 192) {
      break;
    }
  }
  GstBuffer *video = rtp_packet(96, 1000, 90000, 0xDEADBEEF, 900, 0x5A);
  s.peer->push("video", video);
  auto got = s.viewer.next_rtp(2000);
  BOOST_REQUIRE(got.size() == 912u);
  BOOST_TEST((got[1] & 0x7F) == 102);
  BOOST_TEST(read32(got.data() + 8) == video_ssrc);
  BOOST_TEST(((got[2] << 8) | got[3]) == 1000);
  BOOST_TEST(got[500] == 0x5A);
  GstBuffer *audio = rtp_packet(97, 7, 48000, 0xFEEDF00D, 80, 0x11);
  s.peer->push("audio", audio);
  got = s.viewer.next_rtp(2000);
  BOOST_REQUIRE(got.size() == 92u);
  BOOST_TEST((got[1] & 0x7F) == 111);
  BOOST_TEST(read32(got.data() + 8) == audio_ssrc);
  gst_buffer_unref(audio);

  // A NACK for the lost sequence 999 sends that packet again.
  std::vector<uint8_t> nack = {0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0x03, 0xE7, 0, 0};
  for (int i = 0; i < 4; ++i) {
    nack[8 + i] = static_cast<uint8_t>(video_ssrc >> (24 - 8 * i));
  }
  s.viewer.send_rtcp(nack);
  got = s.viewer.next_rtp(2000);
  BOOST_REQUIRE(got.size() == 912u);
  BOOST_TEST(((got[2] << 8) | got[3]) == 999);
  BOOST_TEST(s.peer->stats().retransmitted == 1u);
  gst_buffer_unref(video);

  // A PLI asks the stream for a key frame.
  int before = s.observed.keyframes;
  std::vector<uint8_t> pli = {0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    pli[8 + i] = static_cast<uint8_t>(video_ssrc >> (24 - 8 * i));
  }
  s.viewer.send_rtcp(pli);
  BOOST_TEST(s.observed.wait([&] { return s.observed.keyframes > before; }, 2000));

  // Sender reports come about once a second, for lip sync.
  auto report = s.viewer.next_rtcp(3000);
  BOOST_REQUIRE(report.size() >= 28u);
  BOOST_TEST(report[1] == 200);
  uint32_t reported = read32(report.data() + 4);
  BOOST_TEST((reported == video_ssrc || reported == audio_ssrc));

  auto stats = s.peer->stats();
  BOOST_TEST(stats.packets == 3u);
  BOOST_TEST(stats.bytes == 912u + 912u + 92u);

  // Closing sends a BYE and close_notify.
  s.peer->close();
  BOOST_TEST(!s.peer->connected());
  bool bye_seen = false;
  for (int i = 0; i < 4 && !bye_seen; ++i) {
    auto packet = s.viewer.next_rtcp(500);
    RtcpFeedback feedback;
    std::string error;
    bye_seen = !packet.empty() && parse_rtcp(packet.data(), packet.size(), &feedback, &error) &&
               feedback.bye;
  }
  BOOST_TEST(bye_seen);
  for (int i = 0; i < 10 && s.viewer.dtls->state() != DtlsSession::State::kClosed; ++i) {
    auto data = s.viewer.receive(100);
    if (!data.empty() && classify(data.data(), data.size()) == PacketKind::kDtls) {
      s.viewer.dtls->receive(data.data(), data.size());
    }
  }
  BOOST_TEST(int(s.viewer.dtls->state()) == int(DtlsSession::State::kClosed));
  BOOST_TEST(s.engine->peer_count() == 0u);
  // Nothing reaches a closed viewer.
  GstBuffer *late = rtp_packet(96, 1001, 93000, 1, 100, 0);
  s.peer->push("video", late);
  gst_buffer_unref(late);
  BOOST_TEST(s.viewer.next_rtp(300).empty());
  BOOST_TEST(s.observed.closed.empty());  // closing is not reported back
}

BOOST_AUTO_TEST_CASE(nothing_is_sent_before_dtls_is_up) {
  Setup s;
  auto reply = s.viewer.check(s.viewer.server_ufrag, s.viewer.server_pwd);
  BOOST_REQUIRE(!reply.empty());
  GstBuffer *video = rtp_packet(96, 5, 0, 1, 100, 0);
  s.peer->push("video", video);
  gst_buffer_unref(video);
  auto data = s.viewer.receive(300);
  BOOST_TEST((data.empty() || classify(data.data(), data.size()) != PacketKind::kRtp));
  BOOST_TEST(s.peer->stats().packets == 0u);
}

BOOST_AUTO_TEST_CASE(a_viewer_that_never_checks_is_ended) {
  EngineOptions options;
  options.connect_timeout_ms = 400;
  Setup s(options);
  BOOST_REQUIRE(s.observed.wait([&] { return !s.observed.closed.empty(); }, 3000));
  BOOST_TEST(s.observed.closed.find("no ICE connectivity check") != std::string::npos);
  BOOST_TEST(s.engine->peer_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_viewer_that_stops_answering_is_ended) {
  EngineOptions options;
  options.consent_timeout_ms = 600;
  Setup s(options);
  s.connect();
  BOOST_REQUIRE(s.observed.wait([&] { return !s.observed.closed.empty(); }, 3000));
  BOOST_TEST(s.observed.closed.find("no ICE consent") != std::string::npos);
}

// A viewer whose ICE agent sends no checks once connected (libnice keeps a
// lite peer's pair alive with indications) but sends receiver reports stays.
BOOST_AUTO_TEST_CASE(receiver_reports_keep_a_viewer_that_sends_no_checks) {
  EngineOptions options;
  options.consent_timeout_ms = 600;
  Setup s(options);
  s.connect();
  std::vector<uint8_t> report = {0x80, 201, 0, 1, 0, 0, 0, 7};  // RR without blocks
  for (int i = 0; i < 8; ++i) {
    s.viewer.send_rtcp(report);
    g_usleep(200 * 1000);
  }
  BOOST_TEST(s.observed.closed.empty());
  BOOST_TEST(s.peer->connected());
  // Once the reports stop too, the viewer is ended.
  BOOST_REQUIRE(s.observed.wait([&] { return !s.observed.closed.empty(); }, 3000));
  BOOST_TEST(s.observed.closed.find("no ICE consent") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_certificate_other_than_the_offer_claims_is_refused) {
  std::string error;
  auto other = DtlsIdentity::create(&error);
  BOOST_REQUIRE(other);
  Setup s({}, &other->fingerprint());
  auto reply = s.viewer.check(s.viewer.server_ufrag, s.viewer.server_pwd);
  BOOST_REQUIRE(!reply.empty());
  s.viewer.connect();  // the handshake itself completes on the viewer's side
  BOOST_REQUIRE(s.observed.wait([&] { return !s.observed.closed.empty(); }, 3000));
  BOOST_TEST(s.observed.closed.find("does not match the fingerprint") != std::string::npos);
  BOOST_TEST(!s.peer->connected());
}

BOOST_AUTO_TEST_CASE(ice_restart_moves_to_new_credentials) {
  Setup s;
  s.connect();
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> candidates;
  s.peer->restart_ice("cli2", &ufrag, &pwd, &candidates);
  BOOST_TEST(ufrag != s.viewer.server_ufrag);
  BOOST_TEST(pwd.size() == 24u);
  BOOST_REQUIRE(candidates.size() == 1u);
  BOOST_TEST(candidates[0].find("typ host") != std::string::npos);
  // The old credentials serve until the new ones are used.
  auto reply = s.viewer.check(s.viewer.server_ufrag, s.viewer.server_pwd);
  BOOST_REQUIRE(!reply.empty());
  BOOST_TEST((reply[0] << 8 | reply[1]) == 0x0101);
  reply = s.viewer.check(ufrag, pwd);
  BOOST_REQUIRE(!reply.empty());
  BOOST_TEST((reply[0] << 8 | reply[1]) == 0x0101);
  reply = s.viewer.check(s.viewer.server_ufrag, s.viewer.server_pwd);
  BOOST_REQUIRE(!reply.empty());
  BOOST_TEST((reply[0] << 8 | reply[1]) == 0x0111);
  // Media keeps flowing on the same DTLS-SRTP session.
  GstBuffer *video = rtp_packet(96, 20, 0, 1, 300, 7);
  s.peer->push("video", video);
  gst_buffer_unref(video);
  BOOST_TEST(s.viewer.next_rtp(2000).size() == 312u);
}

BOOST_AUTO_TEST_CASE(many_viewers_share_one_port) {
  std::string error;
  EngineOptions options;
  options.addresses = {"127.0.0.1"};
  auto engine = Engine::start(options, &error);
  BOOST_REQUIRE_MESSAGE(engine, error);
  const int count = 20;
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::vector<std::shared_ptr<Peer>> peers;
  Observed observed;
  for (int i = 0; i < count; ++i) {
    auto viewer = std::make_unique<Viewer>();
    auto plan =
        media::plan_offer(offer_with(viewer->identity->fingerprint()), media::OfferRole::kPlay,
                          {media::Codec::kH264}, {media::Codec::kOpus});
    auto peer =
        engine->add_peer(std::get<media::OfferPlan>(plan), "livepipe", observed.events(), &error);
    BOOST_REQUIRE(peer);
    viewer->use_answer(peer->answer());
    BOOST_REQUIRE(!viewer->check(viewer->server_ufrag, viewer->server_pwd).empty());
    BOOST_REQUIRE(viewer->connect());
    viewers.push_back(std::move(viewer));
    peers.push_back(peer);
  }
  BOOST_TEST(engine->peer_count() == size_t(count));
  GstBuffer *video = rtp_packet(96, 300, 0, 1, 1000, 3);
  for (auto &peer : peers) {
    peer->push("video", video);
  }
  gst_buffer_unref(video);
  for (auto &viewer : viewers) {
    BOOST_TEST(viewer->next_rtp(2000).size() == 1012u);
  }
  for (auto &peer : peers) {
    peer->close();
  }
  BOOST_TEST(engine->peer_count() == 0u);
}
