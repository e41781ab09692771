// The protocol of GStreamer's webrtc examples (signalling/Protocol.md there):
// plain text frames HELLO <uid>, SESSION <uid> [OFFER_REQUEST], ROOM <id>,
// ROOM_PEER_MSG <uid> <msg>, ROOM_PEER_LIST. Pure like Router: text in,
// text out, no sockets.
#pragma once

#include "config.h"
#include "effects.h"
#include "registry.h"

#include <string>
#include <string_view>
#include <unordered_map>

namespace livepipe::signaling {

struct GstRouterSettings {
  Limits limits;
  int64_t timeout_ms = 45000;
};

class GstRouter {
 public:
  using Out = Effects<std::string>;

  GstRouter(GstRouterSettings settings, RoomRegistry &rooms);

  Out connect(ConnectionId connection, Now now);
  Out receive(ConnectionId connection, std::string_view text, Now now);
  Out disconnect(ConnectionId connection, Now now);
  void touch(ConnectionId connection, Now now);
  Out tick(Now now);
  Out kick(const std::string &uid);
  Out shutdown(const std::string &reason);

  size_t connection_count() const { return connections_.size(); }
  bool has_peer(const std::string &uid) const { return by_uid_.count(uid) != 0; }
  const RoomRegistry &rooms() const { return rooms_; }

 private:
  struct Connection {
    std::string uid;      // empty until HELLO
    std::string session;  // the other uid while in a 1-1 session
    std::string room;
    int64_t last_seen_ms = 0;
    InboundGate gate;
  };

  void on_hello(Out &out, ConnectionId id, Connection &c, std::string_view rest);
  void on_session(Out &out, ConnectionId id, Connection &c, std::string_view rest);
  void on_room(Out &out, ConnectionId id, Connection &c, std::string_view rest);
  void in_room(Out &out, ConnectionId id, Connection &c, std::string_view text);
  // Ends whatever `c` is part of; `how` is the room event's reason.
  void detach(Out &out, Connection &c);
  void forget(ConnectionId id);

  GstRouterSettings settings_;
  RoomRegistry &rooms_;
  std::unordered_map<ConnectionId, Connection> connections_;
  std::unordered_map<std::string, ConnectionId> by_uid_;
  uint64_t next_uid_ = 1;
};

}  // namespace livepipe::signaling
