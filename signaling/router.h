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

struct PeerView {
  std::string id;
  std::string name;
  std::string room;     // empty when in no room
  std::string subject;  // the token's sub, when a token was presented
};

class Router {
 public:
  using Out = Effects<ServerMessage>;

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

  size_t connection_count() const { return connections_.size(); }
  std::optional<PeerView> peer(const std::string &id) const;
  std::vector<PeerView> room_peers(const std::string &room) const;
  const RoomRegistry &rooms() const { return rooms_; }

 private:
  struct Connection {
    std::string peer;  // empty until hello
    std::string name;
    std::string room;
    std::optional<Claims> claims;
    int64_t last_seen_ms = 0;
    RateLimiter limiter;
    int64_t rate_error_ms = -1;  // when the last rate-limited error was sent
  };

  void error(Out &out, ConnectionId to, ErrorCode code, std::string message,
             std::string request = {});
  void on_hello(Out &out, ConnectionId id, Connection &c, Hello &&hello, Now now);
  void on_join(Out &out, ConnectionId id, Connection &c, Join &&join);
  void on_leave(Out &out, ConnectionId id, Connection &c);
  void on_relay(Out &out, ConnectionId id, Connection &c, Relay &&relay);
  void leave_room(Out &out, Connection &c, const std::string &reason);
  void forget(ConnectionId id);

  RouterSettings settings_;
  RoomRegistry &rooms_;
  std::unordered_map<ConnectionId, Connection> connections_;
  std::unordered_map<std::string, ConnectionId> by_peer_;
  uint64_t next_peer_ = 1;
};

}  // namespace livepipe::signaling
