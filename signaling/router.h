// The protocol v1 state machine: (connection, incoming text) -> messages to
// send and connections to close. Pure: no sockets, no clocks, no globals.
#pragma once

#include "config.h"
#include "effects.h"
#include "messages.h"
#include "registry.h"
#include "token.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace livepipe::signaling {

using IceServersFor = std::function<std::vector<IceServer>(const std::string &peer, Now now)>;

struct RouterSettings {
  Limits limits;
  std::string token_secret;  // empty: no token needed
  int64_t timeout_ms = 45000;
  IceServersFor ice_servers;  // unset: no ICE servers
};

// What the router asks of the media side (server-side WebRTC sessions); the
// answer comes back through Router::media_answered / media_failed / media_ended.
struct MediaRequest {
  enum class Kind { kPublish, kPlay, kCandidate, kStop };
  Kind kind = Kind::kPublish;
  std::string session;
  std::string stream;
  std::string sdp;            // publish / play: the offer
  std::string subject;        // publish / play: the connection's token's sub, if any
  ConnectionId connection{};  // publish / play: whose request it is
  std::string candidate;
  std::optional<std::string> sdp_mid;
  std::optional<int64_t> sdp_mline_index;
};

struct RouterEffects : Effects<ServerMessage> {
  std::vector<MediaRequest> media;

  void request(MediaRequest r) { media.push_back(std::move(r)); }
  void append(RouterEffects &&other) {
    Effects<ServerMessage>::append(std::move(other));
    for (auto &r : other.media) {
      media.push_back(std::move(r));
    }
  }
};

// Media sessions one connection may hold at once.
inline constexpr size_t kMaxSessionsPerConnection = 8;

struct PeerView {
  std::string id;
  std::string name;
  std::string room;     // empty when in no room
  std::string subject;  // the token's sub, when a token was presented
};

class Router {
 public:
  using Out = RouterEffects;

  Router(RouterSettings settings, RoomRegistry &rooms);

  // `claims` holds a token already verified from the connection URL.
  Out connect(ConnectionId connection, std::optional<Claims> claims, Now now);
  Out receive(ConnectionId connection, std::string_view text, Now now);
  // The socket is gone; the room is told.
  Out disconnect(ConnectionId connection, Now now);
  // Proof of life that carries no message (a WebSocket pong).
  void touch(ConnectionId connection, Now now);
  // Closes connections silent for longer than the timeout and tells their rooms.
  Out tick(Now now);
  // Removes a peer on an administrator's request; empty when it is unknown.
  Out kick(const std::string &peer);
  // Says goodbye to everyone and closes every connection.
  Out shutdown(const std::string &reason);

  // The media side's replies to MediaRequests. A reply for a session that is
  // gone (its connection closed meanwhile) asks the media side to stop it.
  Out media_answered(const std::string &session, const std::string &sdp);
  Out media_failed(const std::string &session, ErrorCode code, const std::string &message);
  Out media_ended(const std::string &session, const std::string &reason);
  size_t media_session_count() const { return sessions_.size(); }

  size_t connection_count() const { return connections_.size(); }
  std::optional<PeerView> peer(const std::string &id) const;
  std::vector<PeerView> room_peers(const std::string &room) const;
  const RoomRegistry &rooms() const { return rooms_; }

 private:
  struct MediaSession {
    ConnectionId connection = 0;
    std::string stream;
    bool publish = false;
  };
  struct Connection {
    std::string peer;  // empty until hello
    std::string name;
    std::string room;
    std::optional<Claims> claims;
    int64_t last_seen_ms = 0;
    InboundGate gate;
  };

  void error(Out &out, ConnectionId to, ErrorCode code, std::string message,
             std::string request = {});
  void on_hello(Out &out, ConnectionId id, Connection &c, Hello &&hello, Now now);
  void on_join(Out &out, ConnectionId id, Connection &c, Join &&join);
  void on_leave(Out &out, ConnectionId id, Connection &c);
  void on_relay(Out &out, ConnectionId id, Connection &c, Relay &&relay);
  void on_media(Out &out, ConnectionId id, Connection &c, bool publish, std::string stream,
                std::string sdp);
  void on_session_candidate(Out &out, ConnectionId id, SessionCandidate &&candidate);
  void on_stop(Out &out, ConnectionId id, const StopSession &stop);
  // Stops every media session of a connection that is going away.
  void stop_sessions(Out &out, ConnectionId id);
  void leave_room(Out &out, Connection &c, const std::string &reason);
  void forget(ConnectionId id);

  RouterSettings settings_;
  RoomRegistry &rooms_;
  std::unordered_map<ConnectionId, Connection> connections_;
  std::unordered_map<std::string, ConnectionId> by_peer_;
  std::unordered_map<std::string, MediaSession> sessions_;
  uint64_t next_peer_ = 1;
  uint64_t next_session_ = 1;
};

}  // namespace livepipe::signaling
