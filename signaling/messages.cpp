#include "messages.h"

#include "util/json.h"

#include <array>
#include <utility>

namespace livepipe::signaling {
namespace {

constexpr size_t kMaxNameLength = 64;

constexpr std::array<std::pair<ErrorCode, const char *>, 23> kErrorNames = {{
    {ErrorCode::kBadMessage, "bad-message"},
    {ErrorCode::kUnknownType, "unknown-type"},
    {ErrorCode::kUnsupportedProtocol, "unsupported-protocol"},
    {ErrorCode::kHelloRequired, "hello-required"},
    {ErrorCode::kAlreadyHello, "already-hello"},
    {ErrorCode::kUnauthorized, "unauthorized"},
    {ErrorCode::kForbidden, "forbidden"},
    {ErrorCode::kInvalidRoom, "invalid-room"},
    {ErrorCode::kAlreadyInRoom, "already-in-room"},
    {ErrorCode::kNotInRoom, "not-in-room"},
    {ErrorCode::kUnknownPeer, "unknown-peer"},
    {ErrorCode::kRoomFull, "room-full"},
    {ErrorCode::kTooManyRooms, "too-many-rooms"},
    {ErrorCode::kTooLarge, "too-large"},
    {ErrorCode::kRateLimited, "rate-limited"},
    {ErrorCode::kServerFull, "server-full"},
    {ErrorCode::kInvalidStream, "invalid-stream"},
    {ErrorCode::kUnknownStream, "unknown-stream"},
    {ErrorCode::kStreamBusy, "stream-busy"},
    {ErrorCode::kUnknownSession, "unknown-session"},
    {ErrorCode::kBadOffer, "bad-offer"},
    {ErrorCode::kTooManySessions, "too-many-sessions"},
    {ErrorCode::kMediaUnavailable, "media-unavailable"},
}};

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const auto &[code, text] : kErrorNames) {
    if (name == text) {
      return code;
    }
  }
  return std::nullopt;
}

std::optional<RelayKind> relay_kind_from_name(std::string_view name) {
  for (RelayKind kind : {RelayKind::kOffer, RelayKind::kAnswer, RelayKind::kCandidate,
                         RelayKind::kEndOfCandidates}) {
    if (name == relay_kind_name(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

ParseFailure bad(std::string message, std::string type = {}) {
  return ParseFailure{ErrorCode::kBadMessage, std::move(message), std::move(type)};
}

// Reads an optional string member; false when present with another type.
bool optional_string(JsonObject *object, const char *member, std::string *out) {
  if (!json_object_has_member(object, member)) {
    return true;
  }
  auto value = json::get_string(object, member);
  if (!value) {
    return false;
  }
  *out = std::move(*value);
  return true;
}

// sdpMid and sdpMLineIndex of a candidate; the reason when they are wrong.
std::optional<std::string> read_candidate_position(JsonObject *object,
                                                   std::optional<std::string> *sdp_mid,
                                                   std::optional<int64_t> *sdp_mline_index) {
  if (json_object_has_member(object, "sdpMid")) {
    JsonNode *node = json_object_get_member(object, "sdpMid");
    if (!JSON_NODE_HOLDS_NULL(node)) {
      auto mid = json::get_string(object, "sdpMid");
      if (!mid) {
        return "\"sdpMid\" must be a string or null";
      }
      *sdp_mid = std::move(*mid);
    }
  }
  if (json_object_has_member(object, "sdpMLineIndex")) {
    JsonNode *node = json_object_get_member(object, "sdpMLineIndex");
    if (!JSON_NODE_HOLDS_NULL(node)) {
      auto index = json::get_int(object, "sdpMLineIndex");
      if (!index || *index < 0 || *index > 1024) {
        return "\"sdpMLineIndex\" must be an integer from 0 to 1024 or null";
      }
      *sdp_mline_index = *index;
    }
  }
  if (!*sdp_mid && !*sdp_mline_index) {
    return "a candidate needs \"sdpMid\" or \"sdpMLineIndex\"";
  }
  return std::nullopt;
}

std::variant<ClientMessage, ParseFailure> parse_session_message(JsonObject *object,
                                                                const std::string &type) {
  auto session = json::get_string(object, "session");
  if (!session || session->empty()) {
    return bad("\"session\" must be a non-empty string", type);
  }
  if (type == "unpublish" || type == "stop") {
    return ClientMessage{StopSession{type == "unpublish", std::move(*session)}};
  }
  SessionCandidate candidate;
  candidate.session = std::move(*session);
  if (type == "end-of-candidates") {
    candidate.end = true;
    return ClientMessage{std::move(candidate)};
  }
  auto text = json::get_string(object, "candidate");
  if (!text) {
    return bad("\"candidate\" must be a string", type);
  }
  candidate.candidate = std::move(*text);
  if (auto why = read_candidate_position(object, &candidate.sdp_mid, &candidate.sdp_mline_index)) {
    return bad(*why, type);
  }
  return ClientMessage{std::move(candidate)};
}

std::variant<ClientMessage, ParseFailure> parse_media_request(JsonObject *object,
                                                              const std::string &type) {
  auto stream = json::get_string(object, "stream");
  if (!stream) {
    return bad("\"stream\" must be a string", type);
  }
  if (!valid_stream_name(*stream)) {
    return ParseFailure{ErrorCode::kInvalidStream,
                        "stream names are 1 to 64 characters from A-Z a-z 0-9 _ . -", type};
  }
  auto sdp = json::get_string(object, "sdp");
  if (!sdp || sdp->empty()) {
    return bad("\"sdp\" must be a non-empty string (the offer)", type);
  }
  if (type == "publish") {
    return ClientMessage{Publish{std::move(*stream), std::move(*sdp)}};
  }
  return ClientMessage{Play{std::move(*stream), std::move(*sdp)}};
}

std::variant<ClientMessage, ParseFailure> parse_relay(JsonObject *object, RelayKind kind,
                                                      const std::string &type) {
  Relay relay;
  relay.kind = kind;
  auto to = json::get_string(object, "to");
  if (!to || to->empty()) {
    return bad("\"to\" must be a non-empty string naming a peer", type);
  }
  relay.peer = std::move(*to);
  switch (kind) {
    case RelayKind::kOffer:
    case RelayKind::kAnswer: {
      auto sdp = json::get_string(object, "sdp");
      if (!sdp || sdp->empty()) {
        return bad("\"sdp\" must be a non-empty string", type);
      }
      relay.sdp = std::move(*sdp);
      break;
    }
    case RelayKind::kCandidate: {
      auto candidate = json::get_string(object, "candidate");
      if (!candidate) {
        return bad("\"candidate\" must be a string", type);
      }
      relay.candidate = std::move(*candidate);
      if (auto why = read_candidate_position(object, &relay.sdp_mid, &relay.sdp_mline_index)) {
        return bad(*why, type);
      }
      break;
    }
    case RelayKind::kEndOfCandidates:
      break;
  }
  return ClientMessage{std::move(relay)};
}

json::NodePtr ice_servers_node(const std::vector<IceServer> &servers) {
  json::NodePtr node(json_node_new(JSON_NODE_ARRAY));
  JsonArray *array = json_array_new();
  for (const auto &server : servers) {
    JsonObject *object = json_object_new();
    JsonArray *urls = json_array_new();
    for (const auto &url : server.urls) {
      json_array_add_string_element(urls, url.c_str());
    }
    json_object_set_array_member(object, "urls", urls);
    if (!server.username.empty() || !server.credential.empty()) {
      json_object_set_string_member(object, "username", server.username.c_str());
      json_object_set_string_member(object, "credential", server.credential.c_str());
    }
    json_array_add_object_element(array, object);
  }
  json_node_take_array(node.get(), array);
  return node;
}

json::NodePtr peer_node(const PeerInfo &peer) {
  return json::ObjectBuilder().set("id", peer.id).set("name", peer.name).build();
}

void add_candidate_members(json::ObjectBuilder &builder, const std::string &candidate,
                           const std::optional<std::string> &sdp_mid,
                           const std::optional<int64_t> &sdp_mline_index) {
  builder.set("candidate", candidate);
  if (sdp_mid) {
    builder.set("sdpMid", *sdp_mid);
  } else {
    builder.set_null("sdpMid");
  }
  if (sdp_mline_index) {
    builder.set("sdpMLineIndex", *sdp_mline_index);
  } else {
    builder.set_null("sdpMLineIndex");
  }
}

void add_relay_members(json::ObjectBuilder &builder, const Relay &relay) {
  switch (relay.kind) {
    case RelayKind::kOffer:
    case RelayKind::kAnswer:
      builder.set("sdp", relay.sdp);
      break;
    case RelayKind::kCandidate:
      add_candidate_members(builder, relay.candidate, relay.sdp_mid, relay.sdp_mline_index);
      break;
    case RelayKind::kEndOfCandidates:
      break;
  }
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// clang 14 does not deduce aggregate templates yet.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

const char *error_code_name(ErrorCode code) {
  for (const auto &[value, text] : kErrorNames) {
    if (value == code) {
      return text;
    }
  }
  return "bad-message";
}

const char *relay_kind_name(RelayKind kind) {
  switch (kind) {
    case RelayKind::kOffer:
      return "offer";
    case RelayKind::kAnswer:
      return "answer";
    case RelayKind::kCandidate:
      return "candidate";
    case RelayKind::kEndOfCandidates:
      return "end-of-candidates";
  }
  return "offer";
}

bool valid_room_name(std::string_view room) {
  if (room.empty() || room.size() > kMaxNameLength) {
    return false;
  }
  for (char c : room) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_stream_name(std::string_view stream) {
  return valid_room_name(stream) && stream != "." && stream != "..";
}

std::variant<ClientMessage, ParseFailure> parse_client_message(std::string_view text) {
  json::ParseError error;
  json::NodePtr root = json::parse(text, &error);
  if (!root) {
    return bad("not valid JSON: " + error.message);
  }
  if (!JSON_NODE_HOLDS_OBJECT(root.get())) {
    return bad(std::string("a message must be a JSON object, not ") + json::type_name(root.get()));
  }
  JsonObject *object = json_node_get_object(root.get());
  auto type = json::get_string(object, "type");
  if (!type) {
    return bad("\"type\" must be a string");
  }
  if (*type == "hello") {
    Hello hello;
    if (json_object_has_member(object, "protocol")) {
      auto protocol = json::get_int(object, "protocol");
      if (!protocol) {
        return bad("\"protocol\" must be an integer", *type);
      }
      if (*protocol != kProtocolVersion) {
        return ParseFailure{ErrorCode::kUnsupportedProtocol,
                            "protocol " + std::to_string(*protocol) +
                                " is not supported; this server speaks protocol 1",
                            *type};
      }
    }
    if (!optional_string(object, "token", &hello.token)) {
      return bad("\"token\" must be a string", *type);
    }
    if (!optional_string(object, "name", &hello.name)) {
      return bad("\"name\" must be a string", *type);
    }
    if (hello.name.size() > kMaxNameLength) {
      return bad("\"name\" must be at most 64 bytes", *type);
    }
    return ClientMessage{std::move(hello)};
  }
  if (*type == "join") {
    auto room = json::get_string(object, "room");
    if (!room) {
      return bad("\"room\" must be a string", *type);
    }
    if (!valid_room_name(*room)) {
      return ParseFailure{ErrorCode::kInvalidRoom,
                          "room names are 1 to 64 characters from A-Z a-z 0-9 _ . -", *type};
    }
    return ClientMessage{Join{std::move(*room)}};
  }
  if (*type == "leave") {
    return ClientMessage{Leave{}};
  }
  if (*type == "ping") {
    return ClientMessage{Ping{}};
  }
  if (*type == "publish" || *type == "play") {
    return parse_media_request(object, *type);
  }
  if (*type == "unpublish" || *type == "stop" ||
      ((*type == "candidate" || *type == "end-of-candidates") &&
       json_object_has_member(object, "session") && !json_object_has_member(object, "to"))) {
    return parse_session_message(object, *type);
  }
  if (auto kind = relay_kind_from_name(*type)) {
    return parse_relay(object, *kind, *type);
  }
  return ParseFailure{ErrorCode::kUnknownType, "unknown message type \"" + *type + "\"", *type};
}

std::string serialize(const ServerMessage &message) {
  json::ObjectBuilder builder;
  std::visit(
      Overloaded{
          [&](const Welcome &m) {
            builder.set("type", "welcome")
                .set("protocol", kProtocolVersion)
                .set("peer", m.peer)
                .set("iceServers", ice_servers_node(m.ice_servers));
          },
          [&](const Joined &m) {
            json::NodePtr peers(json_node_new(JSON_NODE_ARRAY));
            JsonArray *array = json_array_new();
            for (const auto &peer : m.peers) {
              json_array_add_element(array, peer_node(peer).release());
            }
            json_node_take_array(peers.get(), array);
            builder.set("type", "joined").set("room", m.room).set("peers", std::move(peers));
          },
          [&](const PeerJoined &m) {
            builder.set("type", "peer-joined").set("room", m.room).set("peer", peer_node(m.peer));
          },
          [&](const PeerLeft &m) {
            builder.set("type", "peer-left")
                .set("room", m.room)
                .set("peer", m.peer)
                .set("reason", m.reason);
          },
          [&](const Left &m) { builder.set("type", "left").set("room", m.room); },
          [&](const Relay &m) {
            builder.set("type", relay_kind_name(m.kind)).set("from", m.peer);
            add_relay_members(builder, m);
          },
          [&](const Pong &) { builder.set("type", "pong"); },
          [&](const Error &m) {
            builder.set("type", "error")
                .set("code", error_code_name(m.code))
                .set("message", m.message);
            if (!m.request_type.empty()) {
              builder.set("request", m.request_type);
            }
            if (!m.stream.empty()) {
              builder.set("stream", m.stream);
            }
            if (!m.session.empty()) {
              builder.set("session", m.session);
            }
          },
          [&](const Bye &m) { builder.set("type", "bye").set("reason", m.reason); },
          [&](const SessionAnswer &m) {
            builder.set("type", "answer")
                .set("stream", m.stream)
                .set("session", m.session)
                .set("sdp", m.sdp);
          },
          [&](const SessionEnded &m) {
            builder.set("type", "ended")
                .set("stream", m.stream)
                .set("session", m.session)
                .set("reason", m.reason);
          },
      },
      message);
  return builder.to_string();
}

std::string serialize(const ClientMessage &message) {
  json::ObjectBuilder builder;
  std::visit(Overloaded{
                 [&](const Hello &m) {
                   builder.set("type", "hello").set("protocol", m.protocol);
                   if (!m.token.empty()) {
                     builder.set("token", m.token);
                   }
                   if (!m.name.empty()) {
                     builder.set("name", m.name);
                   }
                 },
                 [&](const Join &m) { builder.set("type", "join").set("room", m.room); },
                 [&](const Leave &) { builder.set("type", "leave"); },
                 [&](const Relay &m) {
                   builder.set("type", relay_kind_name(m.kind)).set("to", m.peer);
                   add_relay_members(builder, m);
                 },
                 [&](const Ping &) { builder.set("type", "ping"); },
                 [&](const Publish &m) {
                   builder.set("type", "publish").set("stream", m.stream).set("sdp", m.sdp);
                 },
                 [&](const Play &m) {
                   builder.set("type", "play").set("stream", m.stream).set("sdp", m.sdp);
                 },
                 [&](const SessionCandidate &m) {
                   builder.set("type", m.end ? "end-of-candidates" : "candidate")
                       .set("session", m.session);
                   if (!m.end) {
                     add_candidate_members(builder, m.candidate, m.sdp_mid, m.sdp_mline_index);
                   }
                 },
                 [&](const StopSession &m) {
                   builder.set("type", m.publish ? "unpublish" : "stop").set("session", m.session);
                 },
             },
             message);
  return builder.to_string();
}

std::optional<ServerMessage> parse_server_message(std::string_view text) {
  json::NodePtr root = json::parse(text, nullptr);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root.get())) {
    return std::nullopt;
  }
  JsonObject *object = json_node_get_object(root.get());
  auto type = json::get_string(object, "type");
  if (!type) {
    return std::nullopt;
  }
  auto str = [&](const char *member) { return json::get_string(object, member).value_or(""); };
  auto read_peer = [](JsonNode *node) {
    PeerInfo peer;
    if (node && JSON_NODE_HOLDS_OBJECT(node)) {
      JsonObject *o = json_node_get_object(node);
      peer.id = json::get_string(o, "id").value_or("");
      peer.name = json::get_string(o, "name").value_or("");
    }
    return peer;
  };
  if (*type == "welcome") {
    Welcome welcome{str("peer"), {}};
    if (JsonArray *servers = json::get_array(object, "iceServers")) {
      for (guint i = 0; i < json_array_get_length(servers); ++i) {
        JsonNode *node = json_array_get_element(servers, i);
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
          continue;
        }
        JsonObject *o = json_node_get_object(node);
        IceServer server;
        if (JsonArray *urls = json::get_array(o, "urls")) {
          for (guint j = 0; j < json_array_get_length(urls); ++j) {
            JsonNode *url = json_array_get_element(urls, j);
            if (JSON_NODE_HOLDS_VALUE(url) && json_node_get_value_type(url) == G_TYPE_STRING) {
              server.urls.emplace_back(json_node_get_string(url));
            }
          }
        }
        server.username = json::get_string(o, "username").value_or("");
        server.credential = json::get_string(o, "credential").value_or("");
        welcome.ice_servers.push_back(std::move(server));
      }
    }
    return welcome;
  }
  if (*type == "joined") {
    Joined joined{str("room"), {}};
    if (JsonArray *peers = json::get_array(object, "peers")) {
      for (guint i = 0; i < json_array_get_length(peers); ++i) {
        joined.peers.push_back(read_peer(json_array_get_element(peers, i)));
      }
    }
    return joined;
  }
  if (*type == "peer-joined") {
    JsonNode *peer =
        json_object_has_member(object, "peer") ? json_object_get_member(object, "peer") : nullptr;
    return PeerJoined{str("room"), read_peer(peer)};
  }
  if (*type == "peer-left") {
    return PeerLeft{str("room"), str("peer"), str("reason")};
  }
  if (*type == "left") {
    return Left{str("room")};
  }
  if (*type == "pong") {
    return Pong{};
  }
  if (*type == "bye") {
    return Bye{str("reason")};
  }
  if (*type == "error") {
    return Error{error_code_from_name(str("code")).value_or(ErrorCode::kBadMessage), str("message"),
                 str("request"), str("stream"), str("session")};
  }
  if (*type == "answer" && json_object_has_member(object, "session")) {
    return SessionAnswer{str("stream"), str("session"), str("sdp")};
  }
  if (*type == "ended") {
    return SessionEnded{str("stream"), str("session"), str("reason")};
  }
  if (auto kind = relay_kind_from_name(*type)) {
    Relay relay;
    relay.kind = *kind;
    relay.peer = str("from");
    relay.sdp = str("sdp");
    relay.candidate = str("candidate");
    relay.sdp_mid = json::get_string(object, "sdpMid");
    relay.sdp_mline_index = json::get_int(object, "sdpMLineIndex");
    return relay;
  }
  return std::nullopt;
}

}  // namespace livepipe::signaling
