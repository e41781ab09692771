// The protocol v1 state machine, driven message by message with no sockets.
#define BOOST_TEST_MODULE router
#include <boost/test/unit_test.hpp>

#include "router.h"

using namespace livepipe::signaling;

namespace livepipe::signaling {
std::ostream &operator<<(std::ostream &out, ErrorCode code) {
  return out << error_code_name(code);
}
}  // namespace livepipe::signaling

namespace {

constexpr const char *kSecret = "0123456789abcdef-secret";

struct Harness {
  InMemoryRoomRegistry rooms;
  Router router;
  Now now{1000, 1'700'000'000};

  explicit Harness(RouterSettings settings = defaults()) : router(std::move(settings), rooms) {}

  static RouterSettings defaults() {
    RouterSettings s;
    s.limits.messages_per_second = 1000;
    s.ice_servers = [](const std::string &peer, Now) {
      return std::vector<IceServer>{{{"turn:127.0.0.1:3478"}, "u-" + peer, "c"}};
    };
    return s;
  }

  Router::Out connect(ConnectionId id, std::optional<Claims> claims = std::nullopt) {
    return router.connect(id, std::move(claims), now);
  }
  Router::Out say(ConnectionId id, const std::string &text) {
    return router.receive(id, text, now);
  }

  // Connects, says hello and returns the peer id from the welcome.
  std::string hello(ConnectionId id, const std::string &name = "") {
    BOOST_REQUIRE(connect(id).sends.empty());
    auto out = say(
        id, name.empty() ? R"({"type":"hello"})" : R"({"type":"hello","name":")" + name + "\"}");
    BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
    auto *welcome = std::get_if<Welcome>(&out.sends[0].message);
    BOOST_REQUIRE(welcome);
    return welcome->peer;
  }
  std::string join(ConnectionId id, const std::string &room, const std::string &name = "") {
    std::string peer = hello(id, name);
    auto out = say(id, R"({"type":"join","room":")" + room + "\"}");
    BOOST_REQUIRE(!out.sends.empty());
    BOOST_REQUIRE(std::holds_alternative<Joined>(out.sends[0].message));
    return peer;
  }
};

const Error &only_error(const Router::Out &out, ConnectionId to) {
  BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
  BOOST_REQUIRE_EQUAL(out.sends[0].connection, to);
  auto *error = std::get_if<Error>(&out.sends[0].message);
  BOOST_REQUIRE(error);
  return *error;
}

template <typename T>
const T &message_to(const Router::Out &out, ConnectionId to) {
  for (const auto &send : out.sends) {
    if (send.connection == to && std::holds_alternative<T>(send.message)) {
      return std::get<T>(send.message);
    }
  }
  BOOST_FAIL("no such message for connection " << to);
  throw std::logic_error("unreachable");
}

}  // namespace

BOOST_AUTO_TEST_CASE(hello_gets_a_welcome_with_peer_id_and_ice_servers) {
  Harness h;
  h.connect(1);
  auto out = h.say(1, R"({"type":"hello","protocol":1,"name":"alice"})");
  const auto &welcome = message_to<Welcome>(out, 1);
  BOOST_TEST(!welcome.peer.empty());
  BOOST_REQUIRE_EQUAL(welcome.ice_servers.size(), 1u);
  BOOST_TEST(welcome.ice_servers[0].username == "u-" + welcome.peer);
  BOOST_TEST(serialize(out.sends[0].message).find("\"iceServers\":[{\"urls\":[\"turn:") !=
             std::string::npos);
  BOOST_TEST(only_error(h.say(1, R"({"type":"hello"})"), 1).code == ErrorCode::kAlreadyHello);
}

BOOST_AUTO_TEST_CASE(unsupported_protocol_version_is_refused) {
  Harness h;
  h.connect(1);
  BOOST_TEST(only_error(h.say(1, R"({"type":"hello","protocol":2})"), 1).code ==
             ErrorCode::kUnsupportedProtocol);
}

BOOST_AUTO_TEST_CASE(everything_but_hello_needs_hello_first) {
  Harness h;
  h.connect(1);
  for (auto text : {R"({"type":"join","room":"a"})", R"({"type":"leave"})", R"({"type":"ping"})",
                    R"({"type":"offer","to":"p2","sdp":"v=0"})"}) {
    BOOST_TEST(only_error(h.say(1, text), 1).code == ErrorCode::kHelloRequired);
  }
}

BOOST_AUTO_TEST_CASE(join_lists_peers_and_tells_the_room) {
  Harness h;
  std::string alice = h.join(1, "blue", "alice");
  std::string bob = h.hello(2, "bob");
  auto out = h.say(2, R"({"type":"join","room":"blue"})");
  BOOST_REQUIRE_EQUAL(out.sends.size(), 2u);
  const auto &joined = message_to<Joined>(out, 2);
  BOOST_TEST(joined.room == "blue");
  BOOST_REQUIRE_EQUAL(joined.peers.size(), 1u);
  BOOST_TEST(joined.peers[0].id == alice);
  BOOST_TEST(joined.peers[0].name == "alice");
  const auto &event = message_to<PeerJoined>(out, 1);
  BOOST_TEST(event.peer.id == bob);
  BOOST_TEST(event.peer.name == "bob");
  BOOST_TEST(h.rooms.member_count("blue") == 2u);
  BOOST_TEST(only_error(h.say(2, R"({"type":"join","room":"red"})"), 2).code ==
             ErrorCode::kAlreadyInRoom);
}

BOOST_AUTO_TEST_CASE(invalid_room_names_are_refused) {
  Harness h;
  h.hello(1);
  for (auto text : {R"({"type":"join","room":""})", R"({"type":"join","room":"a b"})",
                    R"({"type":"join","room":"../x"})"}) {
    BOOST_TEST(only_error(h.say(1, text), 1).code == ErrorCode::kInvalidRoom);
  }
  BOOST_TEST(only_error(h.say(1, R"({"type":"join","room":7})"), 1).code == ErrorCode::kBadMessage);
}

BOOST_AUTO_TEST_CASE(offer_answer_candidates_are_relayed_with_sender) {
  Harness h;
  std::string alice = h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  auto out = h.say(2, R"({"type":"offer","to":")" + alice + R"(","sdp":"v=0 offer"})");
  BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
  const auto &offer = message_to<Relay>(out, 1);
  BOOST_TEST((offer.kind == RelayKind::kOffer));
  BOOST_TEST(offer.peer == bob);
  BOOST_TEST(offer.sdp == "v=0 offer");
  BOOST_TEST(out.relayed == 1u);

  out = h.say(1, R"({"type":"answer","to":")" + bob + R"(","sdp":"v=0 answer"})");
  BOOST_TEST(message_to<Relay>(out, 2).sdp == "v=0 answer");

  out = h.say(
      1,
      R"({"type":"candidate","to":")" + bob +
          R"(","candidate":"candidate:1 1 UDP 1 127.0.0.1 5000 typ host","sdpMLineIndex":0,"sdpMid":"0"})");
  const auto &candidate = message_to<Relay>(out, 2);
  BOOST_TEST((candidate.kind == RelayKind::kCandidate));
  BOOST_TEST(candidate.candidate.find("127.0.0.1") != std::string::npos);
  BOOST_TEST(candidate.sdp_mline_index.value() == 0);
  BOOST_TEST(candidate.sdp_mid.value() == "0");
  std::string wire = serialize(out.sends[0].message);
  BOOST_TEST(wire.find("\"from\":\"" + alice + "\"") != std::string::npos);

  out = h.say(1, R"({"type":"end-of-candidates","to":")" + bob + "\"}");
  BOOST_TEST((message_to<Relay>(out, 2).kind == RelayKind::kEndOfCandidates));
}

BOOST_AUTO_TEST_CASE(relay_needs_a_room_and_a_peer_in_it) {
  Harness h;
  std::string alice = h.join(1, "blue");
  std::string carol = h.join(3, "green");
  h.hello(4);
  BOOST_TEST(
      only_error(h.say(4, R"({"type":"offer","to":")" + alice + R"(","sdp":"x"})"), 4).code ==
      ErrorCode::kNotInRoom);
  // Peers in other rooms are invisible.
  auto error = only_error(h.say(1, R"({"type":"offer","to":")" + carol + R"(","sdp":"x"})"), 1);
  BOOST_TEST(error.code == ErrorCode::kUnknownPeer);
  BOOST_TEST(error.request_type == "offer");
  BOOST_TEST(only_error(h.say(1, R"({"type":"offer","to":"nobody","sdp":"x"})"), 1).code ==
             ErrorCode::kUnknownPeer);
  BOOST_TEST(
      only_error(h.say(1, R"({"type":"offer","to":")" + alice + R"(","sdp":"x"})"), 1).code ==
      ErrorCode::kUnknownPeer);
}

BOOST_AUTO_TEST_CASE(malformed_relays_get_bad_message) {
  Harness h;
  std::string alice = h.join(1, "blue");
  h.join(2, "blue");
  for (std::string text : std::vector<std::string>{
           R"({"type":"offer","to":")" + alice + "\"}", R"({"type":"offer","sdp":"x"})",
           R"({"type":"candidate","to":")" + alice + R"(","candidate":"c"})",
           R"({"type":"candidate","to":")" + alice + R"(","candidate":"c","sdpMLineIndex":-1})"}) {
    BOOST_TEST(only_error(h.say(2, text), 2).code == ErrorCode::kBadMessage, text);
  }
}

BOOST_AUTO_TEST_CASE(malformed_messages_get_errors_and_others_are_unaffected) {
  Harness h;
  std::string alice = h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  for (auto text : {"", "{", "[]", "42", R"({"type":5})", R"({"kind":"join"})", "\xff\xfe"}) {
    auto out = h.say(2, text);
    BOOST_TEST(only_error(out, 2).code == ErrorCode::kBadMessage);
    BOOST_TEST(out.closes.empty());
  }
  auto unknown = only_error(h.say(2, R"({"type":"dance"})"), 2);
  BOOST_TEST(unknown.code == ErrorCode::kUnknownType);
  BOOST_TEST(unknown.request_type == "dance");
  // Both peers are still in the room and can talk.
  BOOST_TEST(h.rooms.member_count("blue") == 2u);
  BOOST_TEST(message_to<Relay>(h.say(2, R"({"type":"offer","to":")" + alice + R"(","sdp":"x"})"), 1)
                 .peer == bob);
}

BOOST_AUTO_TEST_CASE(leave_tells_the_room_and_confirms) {
  Harness h;
  h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  auto out = h.say(2, R"({"type":"leave"})");
  BOOST_TEST(message_to<Left>(out, 2).room == "blue");
  const auto &left = message_to<PeerLeft>(out, 1);
  BOOST_TEST(left.peer == bob);
  BOOST_TEST(left.reason == "left");
  BOOST_TEST(only_error(h.say(2, R"({"type":"leave"})"), 2).code == ErrorCode::kNotInRoom);
  // The room disappears with its last member.
  h.say(1, R"({"type":"leave"})");
  BOOST_TEST(h.rooms.room_count() == 0u);
}

BOOST_AUTO_TEST_CASE(disconnect_tells_the_room) {
  Harness h;
  h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  auto out = h.router.disconnect(2, h.now);
  const auto &left = message_to<PeerLeft>(out, 1);
  BOOST_TEST(left.peer == bob);
  BOOST_TEST(left.reason == "disconnected");
  BOOST_TEST(h.router.connection_count() == 1u);
  BOOST_TEST(!h.router.peer(bob));
}

BOOST_AUTO_TEST_CASE(ping_gets_pong) {
  Harness h;
  h.hello(1);
  auto out = h.say(1, R"({"type":"ping"})");
  BOOST_REQUIRE_EQUAL(out.sends.size(), 1u);
  BOOST_TEST(std::holds_alternative<Pong>(out.sends[0].message));
}

BOOST_AUTO_TEST_CASE(silent_peers_time_out_and_the_room_is_told) {
  RouterSettings settings = Harness::defaults();
  settings.timeout_ms = 5000;
  Harness h(settings);
  h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  h.now.mono_ms += 4000;
  h.router.touch(1, h.now);  // a WebSocket pong keeps alice alive
  h.now.mono_ms += 1500;
  auto out = h.router.tick(h.now);
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].connection == 2u);
  BOOST_TEST(out.closes[0].code == kCloseTimeout);
  const auto &left = message_to<PeerLeft>(out, 1);
  BOOST_TEST(left.peer == bob);
  BOOST_TEST(left.reason == "timeout");
  BOOST_TEST(h.router.tick(h.now).closes.empty());
}

BOOST_AUTO_TEST_CASE(oversized_message_is_refused_with_too_large) {
  RouterSettings settings = Harness::defaults();
  settings.limits.max_message_bytes = 2048;
  Harness h(settings);
  std::string alice = h.join(1, "blue");
  h.join(2, "blue");
  std::string big =
      R"({"type":"offer","to":")" + alice + R"(","sdp":")" + std::string(3000, 'a') + "\"}";
  auto error = only_error(h.say(2, big), 2);
  BOOST_TEST(error.code == ErrorCode::kTooLarge);
  BOOST_TEST(error.message.find("2048") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rate_limit_drops_excess_with_one_error_per_second) {
  RouterSettings settings = Harness::defaults();
  settings.limits.messages_per_second = 5;
  Harness h(settings);
  h.hello(1);  // hello used one of the five
  int pongs = 0, errors = 0;
  for (int i = 0; i < 10; ++i) {
    for (const auto &send : h.say(1, R"({"type":"ping"})").sends) {
      pongs += std::holds_alternative<Pong>(send.message);
      if (auto *e = std::get_if<Error>(&send.message)) {
        BOOST_TEST(e->code == ErrorCode::kRateLimited);
        ++errors;
      }
    }
  }
  BOOST_TEST(pongs == 4);
  BOOST_TEST(errors == 1);
  h.now.mono_ms += 1000;  // the bucket refills
  BOOST_TEST(std::holds_alternative<Pong>(h.say(1, R"({"type":"ping"})").sends.at(0).message));
}

BOOST_AUTO_TEST_CASE(room_and_server_limits) {
  RouterSettings settings = Harness::defaults();
  settings.limits.peers_per_room = 2;
  settings.limits.rooms = 2;
  settings.limits.connections = 5;
  Harness h(settings);
  h.join(1, "a");
  h.join(2, "a");
  h.hello(3);
  BOOST_TEST(only_error(h.say(3, R"({"type":"join","room":"a"})"), 3).code == ErrorCode::kRoomFull);
  h.say(3, R"({"type":"join","room":"b"})");
  h.hello(4);
  BOOST_TEST(only_error(h.say(4, R"({"type":"join","room":"c"})"), 4).code ==
             ErrorCode::kTooManyRooms);
  BOOST_TEST(
      std::holds_alternative<Joined>(h.say(4, R"({"type":"join","room":"b"})").sends[0].message));
  h.connect(5);
  auto out = h.connect(6);
  BOOST_TEST(only_error(out, 6).code == ErrorCode::kServerFull);
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].code == kCloseTryAgainLater);
}

BOOST_AUTO_TEST_CASE(tokens_are_required_when_a_secret_is_set) {
  RouterSettings settings = Harness::defaults();
  settings.token_secret = kSecret;
  Harness h(settings);
  h.connect(1);
  auto out = h.say(1, R"({"type":"hello"})");
  BOOST_TEST(only_error(out, 1).code == ErrorCode::kUnauthorized);
  BOOST_REQUIRE_EQUAL(out.closes.size(), 1u);
  BOOST_TEST(out.closes[0].code == kCloseUnauthorized);

  Claims expired{"bob", "", "", Role::kJoin, h.now.unix_s - 1};
  h.connect(2);
  out = h.say(2, R"({"type":"hello","token":")" + mint_token(expired, kSecret) + "\"}");
  BOOST_TEST(only_error(out, 2).message == "token expired");
  BOOST_TEST(out.closes.at(0).code == kCloseUnauthorized);

  // A play token may say hello (to play streams) but not join a room.
  Claims viewer{"carol", "", "", Role::kPlay, h.now.unix_s + 60};
  h.connect(3);
  out = h.say(3, R"({"type":"hello","token":")" + mint_token(viewer, kSecret) + "\"}");
  BOOST_TEST(std::holds_alternative<Welcome>(out.sends.at(0).message));
  BOOST_TEST(out.closes.empty());
  BOOST_TEST(only_error(h.say(3, R"({"type":"join","room":"red"})"), 3).code ==
             ErrorCode::kForbidden);

  // A valid token from the URL: the name defaults to the subject, the room claim binds.
  Claims member{"dave", "blue", "", Role::kJoin, h.now.unix_s + 60};
  h.connect(4, member);
  out = h.say(4, R"({"type":"hello"})");
  std::string dave = message_to<Welcome>(out, 4).peer;
  BOOST_TEST(h.router.peer(dave)->name == "dave");
  BOOST_TEST(only_error(h.say(4, R"({"type":"join","room":"red"})"), 4).code ==
             ErrorCode::kForbidden);
  BOOST_TEST(std::holds_alternative<Joined>(
      h.say(4, R"({"type":"join","room":"blue"})").sends[0].message));
}

BOOST_AUTO_TEST_CASE(kick_and_shutdown_tell_everyone) {
  Harness h;
  h.join(1, "blue");
  std::string bob = h.join(2, "blue");
  h.hello(3);
  auto out = h.router.kick(bob);
  BOOST_TEST(message_to<PeerLeft>(out, 1).reason == "kicked");
  BOOST_TEST(std::holds_alternative<Bye>(out.sends.back().message));
  BOOST_TEST(out.closes.at(0).code == kCloseKicked);
  BOOST_TEST(h.router.kick("nobody").closes.empty());

  out = h.router.shutdown("server shutting down");
  BOOST_TEST(out.closes.size() == 2u);
  for (const auto &close : out.closes) {
    BOOST_TEST(close.code == kCloseGoingAway);
  }
  BOOST_TEST(message_to<Bye>(out, 1).reason == "server shutting down");
  BOOST_TEST(h.router.connection_count() == 0u);
  BOOST_TEST(h.rooms.room_count() == 0u);
}

BOOST_AUTO_TEST_CASE(server_messages_round_trip_through_json) {
  std::vector<ServerMessage> messages = {
      Welcome{"p1", {{{"stun:a"}, "", ""}, {{"turn:b"}, "u", "c"}}},
      Joined{"blue", {{"p2", "bob"}}},
      PeerJoined{"blue", {"p3", "carol"}},
      PeerLeft{"blue", "p3", "timeout"},
      Left{"blue"},
      Relay{RelayKind::kCandidate, "p2", "", "candidate:x", std::string("0"), 0},
      Pong{},
      Error{ErrorCode::kRoomFull, "full", "join"},
      Bye{"later"},
  };
  for (const auto &message : messages) {
    std::string text = serialize(message);
    auto parsed = parse_server_message(text);
    BOOST_REQUIRE(parsed);
    BOOST_TEST(serialize(*parsed) == text);
  }
}

// --- server-side media sessions: publish / play ---

namespace {

std::string publish_text(const std::string &stream, const std::string &type = "publish") {
  return R"({"type":")" + type + R"(","stream":")" + stream + R"(","sdp":"v=0\r\n"})";
}

const MediaRequest &only_request(const Router::Out &out) {
  BOOST_REQUIRE_EQUAL(out.media.size(), 1u);
  return out.media[0];
}

}  // namespace

BOOST_AUTO_TEST_CASE(publish_and_play_become_media_requests_and_answers) {
  Harness h;
  h.hello(1);
  auto out = h.say(1, publish_text("cam"));
  BOOST_TEST(out.sends.empty());  // the answer comes from the media side
  MediaRequest publish = only_request(out);
  BOOST_TEST((publish.kind == MediaRequest::Kind::kPublish));
  BOOST_TEST(publish.stream == "cam");
  BOOST_TEST(publish.sdp == "v=0\r\n");
  BOOST_TEST(!publish.session.empty());
  BOOST_TEST(publish.subject.empty());  // no token
  BOOST_TEST(publish.connection == ConnectionId{1});

  out = h.router.media_answered(publish.session, "answer-sdp");
  const auto &answer = message_to<SessionAnswer>(out, 1);
  BOOST_TEST(answer.stream == "cam");
  BOOST_TEST(answer.session == publish.session);
  BOOST_TEST(answer.sdp == "answer-sdp");

  h.hello(2);
  MediaRequest play = only_request(h.say(2, publish_text("cam", "play")));
  BOOST_TEST((play.kind == MediaRequest::Kind::kPlay));
  BOOST_TEST(play.session != publish.session);
  out = h.router.media_failed(play.session, ErrorCode::kBadOffer, "no H.264");
  const Error &error = only_error(out, 2);
  BOOST_TEST(error.code == ErrorCode::kBadOffer);
  BOOST_TEST(error.request_type == "play");
  BOOST_TEST(error.stream == "cam");
  BOOST_TEST(error.session == play.session);
  // A failed session is forgotten: its candidates are refused.
  out = h.say(2,
              R"({"type":"candidate","session":")" + play.session +
                  R"(","candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host","sdpMLineIndex":0})");
  BOOST_TEST(only_error(out, 2).code == ErrorCode::kUnknownSession);
  BOOST_TEST(out.media.empty());
  BOOST_TEST(h.router.media_session_count() == 1u);
}

BOOST_AUTO_TEST_CASE(session_candidates_and_stops_only_reach_their_owner) {
  Harness h;
  h.hello(1);
  h.hello(2);
  std::string session = only_request(h.say(1, publish_text("cam"))).session;
  std::string candidate =
      R"({"type":"candidate","session":")" + session +
      R"(","candidate":"candidate:1 1 UDP 1 127.0.0.1 9 typ host","sdpMid":"0"})";
  MediaRequest trickle = only_request(h.say(1, candidate));
  BOOST_TEST((trickle.kind == MediaRequest::Kind::kCandidate));
  BOOST_TEST(trickle.sdp_mid.value_or("") == "0");
  BOOST_TEST(!trickle.sdp_mline_index);
  BOOST_TEST(
      h.say(1, R"({"type":"end-of-candidates","session":")" + session + "\"}").sends.empty());

  // Another connection cannot touch the session.
  auto out = h.say(2, candidate);
  BOOST_TEST(only_error(out, 2).code == ErrorCode::kUnknownSession);
  BOOST_TEST(out.media.empty());
  out = h.say(2, R"({"type":"unpublish","session":")" + session + "\"}");
  BOOST_TEST(only_error(out, 2).code == ErrorCode::kUnknownSession);
  // "stop" is for play sessions.
  BOOST_TEST(only_error(h.say(1, R"({"type":"stop","session":")" + session + "\"}"), 1).code ==
             ErrorCode::kUnknownSession);

  out = h.say(1, R"({"type":"unpublish","session":")" + session + "\"}");
  BOOST_TEST((only_request(out).kind == MediaRequest::Kind::kStop));
  const auto &ended = message_to<SessionEnded>(out, 1);
  BOOST_TEST(ended.reason == "stopped");
  BOOST_TEST(ended.stream == "cam");
  // An answer arriving after the stop asks the media side to stop again.
  out = h.router.media_answered(session, "late");
  BOOST_TEST(out.sends.empty());
  BOOST_TEST((only_request(out).kind == MediaRequest::Kind::kStop));
}

BOOST_AUTO_TEST_CASE(media_sessions_end_with_their_connection) {
  Harness h;
  h.hello(1);
  std::string a = only_request(h.say(1, publish_text("one"))).session;
  std::string b = only_request(h.say(1, publish_text("two", "play"))).session;
  auto out = h.router.media_ended(b, "the stream ended");
  BOOST_TEST(message_to<SessionEnded>(out, 1).reason == "the stream ended");
  BOOST_TEST(h.router.media_ended(b, "again").sends.empty());

  out = h.router.disconnect(1, h.now);
  BOOST_TEST((only_request(out).kind == MediaRequest::Kind::kStop));
  BOOST_TEST(out.media[0].session == a);
  BOOST_TEST(h.router.media_session_count() == 0u);

  // Timeouts, kicks and shutdown stop sessions too.
  std::string peer = h.hello(2);
  h.say(2, publish_text("three"));
  BOOST_TEST((only_request(h.router.kick(peer)).kind == MediaRequest::Kind::kStop));
  h.hello(3);
  h.say(3, publish_text("four"));
  BOOST_TEST(only_request(h.router.shutdown("bye")).stream == "four");
  h.hello(4);
  h.say(4, publish_text("five"));
  h.now.mono_ms += 60'000;
  BOOST_TEST(only_request(h.router.tick(h.now)).stream == "five");
}

BOOST_AUTO_TEST_CASE(media_requests_are_checked) {
  Harness h;
  h.connect(1);
  BOOST_TEST(only_error(h.say(1, publish_text("cam")), 1).code == ErrorCode::kHelloRequired);
  h.hello(2);
  auto out = h.say(2, publish_text("no/slash"));
  BOOST_TEST(only_error(out, 2).code == ErrorCode::kInvalidStream);
  BOOST_TEST(only_error(out, 2).request_type == "publish");
  BOOST_TEST(only_error(h.say(2, publish_text("..", "play")), 2).code == ErrorCode::kInvalidStream);
  BOOST_TEST(only_error(h.say(2, R"({"type":"publish","stream":"cam"})"), 2).code ==
             ErrorCode::kBadMessage);
  BOOST_TEST(only_error(h.say(2, R"({"type":"play","stream":"cam","sdp":7})"), 2).code ==
             ErrorCode::kBadMessage);
  BOOST_TEST(only_error(h.say(2, R"({"type":"stop"})"), 2).code == ErrorCode::kBadMessage);
  BOOST_TEST(
      only_error(h.say(2, R"({"type":"candidate","session":"x","candidate":"c"})"), 2).code ==
      ErrorCode::kBadMessage);
  for (size_t i = 0; i < kMaxSessionsPerConnection; ++i) {
    BOOST_TEST(h.say(2, publish_text("s" + std::to_string(i), "play")).media.size() == 1u);
  }
  out = h.say(2, publish_text("one-more", "play"));
  BOOST_TEST(only_error(out, 2).code == ErrorCode::kTooManySessions);
  BOOST_TEST(out.media.empty());
}

BOOST_AUTO_TEST_CASE(media_tokens_need_the_role_and_the_stream) {
  RouterSettings settings = Harness::defaults();
  settings.token_secret = kSecret;
  Harness h(settings);
  auto hello = [&](ConnectionId id, Role role, const std::string &stream) {
    Claims claims{"u" + std::to_string(id), "", stream, role, h.now.unix_s + 60};
    h.connect(id);
    auto out = h.say(id, R"({"type":"hello","token":")" + mint_token(claims, kSecret) + "\"}");
    BOOST_REQUIRE(std::holds_alternative<Welcome>(out.sends.at(0).message));
  };
  hello(1, Role::kPublish, "cam");
  auto published = h.say(1, publish_text("cam"));
  BOOST_REQUIRE(published.media.size() == 1u);
  // Who asks, for the access hooks: the token's subject and the connection.
  BOOST_TEST(published.media[0].subject == "u1");
  BOOST_TEST(published.media[0].connection == ConnectionId{1});
  BOOST_TEST(only_error(h.say(1, publish_text("other")), 1).code == ErrorCode::kForbidden);
  BOOST_TEST(only_error(h.say(1, publish_text("cam", "play")), 1).code == ErrorCode::kForbidden);
  hello(2, Role::kPlay, "");
  BOOST_TEST(h.say(2, publish_text("any", "play")).media.size() == 1u);
  BOOST_TEST(only_error(h.say(2, publish_text("any")), 2).code == ErrorCode::kForbidden);
  hello(3, Role::kJoin, "");
  BOOST_TEST(only_error(h.say(3, publish_text("cam", "play")), 3).code == ErrorCode::kForbidden);
  hello(4, Role::kAdmin, "cam");
  BOOST_TEST(h.say(4, publish_text("elsewhere")).media.size() == 1u);
}

BOOST_AUTO_TEST_CASE(media_messages_round_trip_through_json) {
  SessionAnswer answer{"cam", "p1-s1", "v=0\r\n"};
  auto parsed = parse_server_message(serialize(ServerMessage{answer}));
  BOOST_REQUIRE(parsed);
  auto *back = std::get_if<SessionAnswer>(&*parsed);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->session == "p1-s1");
  BOOST_TEST(back->sdp == "v=0\r\n");
  auto ended = parse_server_message(serialize(ServerMessage{SessionEnded{"cam", "p1-s1", "x"}}));
  BOOST_REQUIRE(ended);
  BOOST_TEST(std::get<SessionEnded>(*ended).reason == "x");
  Error error{ErrorCode::kStreamBusy, "busy", "publish", "cam", "p1-s2"};
  auto error_back = parse_server_message(serialize(ServerMessage{error}));
  BOOST_TEST(std::get<Error>(*error_back).code == ErrorCode::kStreamBusy);
  BOOST_TEST(std::get<Error>(*error_back).session == "p1-s2");
  // A relayed answer between peers is still a relay.
  auto relay = parse_server_message(R"({"type":"answer","from":"p2","sdp":"v=0"})");
  BOOST_TEST(std::holds_alternative<Relay>(*relay));

  for (const ClientMessage &message :
       {ClientMessage{Publish{"cam", "o"}}, ClientMessage{Play{"cam", "o"}},
        ClientMessage{SessionCandidate{"s", "candidate:1", std::string("0"), 0, false}},
        ClientMessage{SessionCandidate{"s", "", std::nullopt, std::nullopt, true}},
        ClientMessage{StopSession{true, "s"}}, ClientMessage{StopSession{false, "s"}}}) {
    auto reparsed = parse_client_message(serialize(message));
    BOOST_REQUIRE(std::holds_alternative<ClientMessage>(reparsed));
    BOOST_TEST(std::get<ClientMessage>(reparsed).index() == message.index());
  }
}
