// The GStreamer webrtc examples protocol state machine, with no sockets.
#define BOOST_TEST_MODULE gst_router
#include <boost/test/unit_test.hpp>

#include "gst_router.h"

using namespace livepipe::signaling;

namespace {

struct Harness {
  InMemoryRoomRegistry rooms;
  GstRouter router;
  Now now{1000, 1'700'000'000};

  explicit Harness(GstRouterSettings settings = defaults()) : router(settings, rooms) {}
  static GstRouterSettings defaults() {
    GstRouterSettings s;
    s.limits.messages_per_second = 1000;
    return s;
  }
  GstRouter::Out say(ConnectionId id, const std::string &text) {
    return router.receive(id, text, now);
  }
  void hello(ConnectionId id, const std::string &uid) {
    router.connect(id, now);
    auto out = say(id, "HELLO " + uid);
    BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
    BOOST_REQUIRE_EQUAL(out.sends[0].message, "HELLO");
  }
};

std::vector<std::string> to(const GstRouter::Out &out, ConnectionId id) {
  std::vector<std::string> texts;
  for (const auto &send : out.sends) {
    if (send.connection == id) {
      texts.push_back(send.message);
    }
  }
  return texts;
}

using Texts = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_CASE(hello_registers_and_rejects_bad_uids) {
  Harness h;
  h.hello(1, "alice");
  h.router.connect(2, h.now);
  auto out = h.say(2, "HELLO alice");
  BOOST_TEST(out.sends.empty());
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].code == kCloseProtocolError);
  BOOST_TEST(out.closes[0].reason == "invalid peer uid");
  h.router.connect(3, h.now);
  BOOST_TEST(h.say(3, "HI there").closes.at(0).reason == "invalid protocol");
  h.router.connect(4, h.now);
  BOOST_TEST(h.say(4, "HELLO a b").closes.at(0).reason == "invalid peer uid");
}

BOOST_AUTO_TEST_CASE(hello_without_uid_gets_a_generated_one) {
  Harness h;
  h.router.connect(1, h.now);
  auto out = h.say(1, "HELLO");
  BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
  BOOST_TEST(out.sends[0].message.rfind("HELLO peer-", 0) == 0u);
  BOOST_TEST(h.router.has_peer(out.sends[0].message.substr(6)));
}

BOOST_AUTO_TEST_CASE(session_relays_verbatim_both_ways) {
  Harness h;
  h.hello(1, "alice");
  h.hello(2, "bob");
  auto out = h.say(1, "SESSION bob");
  BOOST_TEST(to(out, 1) == Texts{"SESSION_OK"});
  BOOST_TEST(to(out, 2).empty());
  std::string offer = R"({"sdp":{"type":"offer","sdp":"v=0"}})";
  out = h.say(1, offer);
  BOOST_TEST(to(out, 2) == Texts{offer});
  BOOST_TEST(out.relayed == 1u);
  out = h.say(2, "SESSION carol");  // once in a session, commands are just payload
  BOOST_TEST(to(out, 1) == Texts{"SESSION carol"});
}

BOOST_AUTO_TEST_CASE(session_errors_and_offer_request) {
  Harness h;
  h.hello(1, "alice");
  h.hello(2, "bob");
  h.hello(3, "carol");
  BOOST_TEST(to(h.say(1, "SESSION nobody"), 1) == Texts{"ERROR peer 'nobody' not found"});
  BOOST_TEST(to(h.say(1, "SESSION alice"), 1) == Texts{"ERROR peer 'alice' not found"});
  auto out = h.say(1, "SESSION bob OFFER_REQUEST");
  BOOST_TEST(to(out, 1) == Texts{"SESSION_OK"});
  BOOST_TEST(to(out, 2) == Texts{"OFFER_REQUEST"});
  BOOST_TEST(to(h.say(3, "SESSION bob"), 3) == Texts{"ERROR peer 'bob' busy"});
  BOOST_TEST(to(h.say(3, "DANCE"), 3) == Texts{"ERROR unknown command DANCE"});
}

BOOST_AUTO_TEST_CASE(hanging_up_closes_the_other_side) {
  Harness h;
  h.hello(1, "alice");
  h.hello(2, "bob");
  h.say(1, "SESSION bob");
  auto out = h.router.disconnect(1, h.now);
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].connection == 2u);
  BOOST_TEST(!h.router.has_peer("bob"));
  BOOST_TEST(h.router.connection_count() == 0u);
}

BOOST_AUTO_TEST_CASE(rooms_announce_list_and_route) {
  Harness h;
  h.hello(1, "alice");
  h.hello(2, "bob");
  h.hello(3, "carol");
  BOOST_TEST(to(h.say(1, "ROOM blue"), 1) == Texts{"ROOM_OK "});
  auto out = h.say(2, "ROOM blue");
  BOOST_TEST(to(out, 2) == Texts{"ROOM_OK alice"});
  BOOST_TEST(to(out, 1) == Texts{"ROOM_PEER_JOINED bob"});
  BOOST_TEST(to(h.say(1, "ROOM_PEER_LIST"), 1) == Texts{"ROOM_PEER_LIST bob"});
  std::string payload = R"({"ice": {"candidate": "c  with  spaces", "sdpMLineIndex": 0}})";
  out = h.say(2, "ROOM_PEER_MSG alice " + payload);
  BOOST_TEST(to(out, 1) == Texts{"ROOM_PEER_MSG bob " + payload});
  BOOST_TEST(to(h.say(2, "ROOM_PEER_MSG carol hi"), 2) ==
             Texts{"ERROR peer 'carol' is not in the room"});
  BOOST_TEST(to(h.say(2, "ROOM_PEER_MSG dave hi"), 2) == Texts{"ERROR peer 'dave' not found"});
  BOOST_TEST(to(h.say(2, "SESSION alice"), 2) == Texts{"ERROR invalid msg, already in room"});
  BOOST_TEST(to(h.say(3, "ROOM session"), 3) == Texts{"ERROR invalid room id session"});
  out = h.router.disconnect(2, h.now);
  BOOST_TEST(to(out, 1) == Texts{"ROOM_PEER_LEFT bob"});
  BOOST_TEST(h.rooms.members("blue") == Texts{"alice"});
}

BOOST_AUTO_TEST_CASE(limits_and_timeouts) {
  GstRouterSettings settings = Harness::defaults();
  settings.limits.peers_per_room = 2;
  settings.limits.max_message_bytes = 1024;
  settings.timeout_ms = 1000;
  Harness h(settings);
  h.hello(1, "a");
  h.hello(2, "b");
  h.hello(3, "c");
  h.say(1, "ROOM r");
  h.say(2, "ROOM r");
  BOOST_TEST(to(h.say(3, "ROOM r"), 3) == Texts{"ERROR room r is full"});
  BOOST_TEST(to(h.say(3, std::string(2000, 'x')), 3) ==
             Texts{"ERROR message too large (limit 1024 bytes)"});
  h.now.mono_ms += 800;
  h.router.touch(1, h.now);
  h.say(3, "ROOM_PEER_LIST");  // not in a room: an error, but still a sign of life
  h.now.mono_ms += 500;
  auto out = h.router.tick(h.now);
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].connection == 2u);
  BOOST_TEST(out.closes[0].code == kCloseTimeout);
  BOOST_TEST(to(out, 1) == Texts{"ROOM_PEER_LEFT b"});
}

BOOST_AUTO_TEST_CASE(shutdown_closes_everyone) {
  Harness h;
  h.hello(1, "a");
  h.hello(2, "b");
  h.say(1, "ROOM r");
  auto out = h.router.shutdown("bye");
  BOOST_TEST(out.closes.size() == 2u);
  BOOST_TEST(h.rooms.room_count() == 0u);
  BOOST_TEST(h.router.connection_count() == 0u);
}
