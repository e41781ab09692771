#include "router.h"

#include <utility>

namespace livepipe::signaling {

Router::Router(RouterSettings settings, RoomRegistry &rooms)
    : settings_(std::move(settings)), rooms_(rooms) {}

void Router::error(Out &out, ConnectionId to, ErrorCode code, std::string message,
                   std::string request) {
  out.send(to, Error{code, std::move(message), std::move(request)});
}

Router::Out Router::connect(ConnectionId id, std::optional<Claims> claims, Now now) {
  Out out;
  if (static_cast<int64_t>(connections_.size()) >= settings_.limits.connections) {
    error(out, id, ErrorCode::kServerFull, "the server has reached its connection limit");
    out.close(id, kCloseTryAgainLater, "server full");
    return out;
  }
  Connection c;
  c.claims = std::move(claims);
  c.last_seen_ms = now.mono_ms;
  c.gate = InboundGate(settings_.limits.messages_per_second, settings_.limits.max_message_bytes,
                       now.mono_ms);
  connections_.emplace(id, std::move(c));
  return out;
}

Router::Out Router::receive(ConnectionId id, std::string_view text, Now now) {
  Out out;
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    return out;
  }
  Connection &c = it->second;
  c.last_seen_ms = now.mono_ms;
  switch (c.gate.check(text.size(), now.mono_ms)) {
    case InboundGate::Verdict::kPass:
      break;
    case InboundGate::Verdict::kTooLarge:
      error(out, id, ErrorCode::kTooLarge,
            "message of " + std::to_string(text.size()) + " bytes is over the limit of " +
                std::to_string(settings_.limits.max_message_bytes));
      return out;
    case InboundGate::Verdict::kRateLimited:
      error(out, id, ErrorCode::kRateLimited,
            "more than " + std::to_string(settings_.limits.messages_per_second) +
                " messages per second; messages are being dropped");
      return out;
    case InboundGate::Verdict::kRateLimitedQuietly:
      return out;
  }
  auto parsed = parse_client_message(text);
  if (auto *failure = std::get_if<ParseFailure>(&parsed)) {
    error(out, id, failure->code, std::move(failure->message), std::move(failure->request_type));
    return out;
  }
  ClientMessage &message = std::get<ClientMessage>(parsed);
  if (auto *hello = std::get_if<Hello>(&message)) {
    on_hello(out, id, c, std::move(*hello), now);
    return out;
  }
  if (c.peer.empty()) {
    error(out, id, ErrorCode::kHelloRequired, "send hello first");
    return out;
  }
  if (auto *join = std::get_if<Join>(&message)) {
    on_join(out, id, c, std::move(*join));
  } else if (std::holds_alternative<Leave>(message)) {
    on_leave(out, id, c);
  } else if (auto *relay = std::get_if<Relay>(&message)) {
    on_relay(out, id, c, std::move(*relay));
  } else if (std::holds_alternative<Ping>(message)) {
    out.send(id, Pong{});
  } else if (auto *publish = std::get_if<Publish>(&message)) {
    on_media(out, id, c, true, std::move(publish->stream), std::move(publish->sdp));
  } else if (auto *play = std::get_if<Play>(&message)) {
    on_media(out, id, c, false, std::move(play->stream), std::move(play->sdp));
  } else if (auto *candidate = std::get_if<SessionCandidate>(&message)) {
    on_session_candidate(out, id, std::move(*candidate));
  } else if (auto *stop = std::get_if<StopSession>(&message)) {
    on_stop(out, id, *stop);
  }
  return out;
}

void Router::on_media(Out &out, ConnectionId id, Connection &c, bool publish, std::string stream,
                      std::string sdp) {
  const char *type = publish ? "publish" : "play";
  Role wanted = publish ? Role::kPublish : Role::kPlay;
  if (!settings_.token_secret.empty()) {
    // hello made sure there are claims when a secret is set.
    if (!c.claims || !role_allows(c.claims->role, wanted)) {
      std::string role = c.claims ? role_name(c.claims->role) : "none";
      out.send(id, Error{ErrorCode::kForbidden,
                         "a token with role " + role + " may not " + role_name(wanted),
                         type,
                         stream,
                         {}});
      return;
    }
    if (!c.claims->stream.empty() && c.claims->stream != stream && c.claims->role != Role::kAdmin) {
      out.send(id, Error{ErrorCode::kForbidden,
                         "the token is for stream " + c.claims->stream,
                         type,
                         stream,
                         {}});
      return;
    }
  }
  size_t held = 0;
  for (const auto &[session, media] : sessions_) {
    held += media.connection == id ? 1 : 0;
  }
  if (held >= kMaxSessionsPerConnection) {
    out.send(id, Error{ErrorCode::kTooManySessions,
                       "a connection may hold " + std::to_string(kMaxSessionsPerConnection) +
                           " media sessions at once",
                       type,
                       stream,
                       {}});
    return;
  }
  // The peer id makes session ids unique per connection; they are useful
  // only on this connection, which owns them.
  std::string session = c.peer + "-s" + std::to_string(next_session_++);
  sessions_[session] = MediaSession{id, stream, publish};
  MediaRequest request;
  request.kind = publish ? MediaRequest::Kind::kPublish : MediaRequest::Kind::kPlay;
  request.session = std::move(session);
  request.stream = std::move(stream);
  request.sdp = std::move(sdp);
  request.subject = c.claims ? c.claims->sub : std::string();
  request.connection = id;
  out.request(std::move(request));
}

void Router::on_session_candidate(Out &out, ConnectionId id, SessionCandidate &&candidate) {
  const char *type = candidate.end ? "end-of-candidates" : "candidate";
  auto it = sessions_.find(candidate.session);
  if (it == sessions_.end() || it->second.connection != id) {
    out.send(id, Error{ErrorCode::kUnknownSession,
                       "no session " + candidate.session,
                       type,
                       {},
                       candidate.session});
    return;
  }
  if (candidate.end) {
    return;  // the server's ICE agent needs no notice
  }
  MediaRequest request;
  request.kind = MediaRequest::Kind::kCandidate;
  request.session = std::move(candidate.session);
  request.stream = it->second.stream;
  request.candidate = std::move(candidate.candidate);
  request.sdp_mid = std::move(candidate.sdp_mid);
  request.sdp_mline_index = candidate.sdp_mline_index;
  out.request(std::move(request));
}

void Router::on_stop(Out &out, ConnectionId id, const StopSession &stop) {
  const char *type = stop.publish ? "unpublish" : "stop";
  auto it = sessions_.find(stop.session);
  if (it == sessions_.end() || it->second.connection != id || it->second.publish != stop.publish) {
    out.send(id, Error{ErrorCode::kUnknownSession,
                       std::string("no ") + (stop.publish ? "publish" : "play") + " session " +
                           stop.session,
                       type,
                       {},
                       stop.session});
    return;
  }
  std::string stream = it->second.stream;
  sessions_.erase(it);
  MediaRequest request;
  request.kind = MediaRequest::Kind::kStop;
  request.session = stop.session;
  request.stream = stream;
  out.request(std::move(request));
  out.send(id, SessionEnded{std::move(stream), stop.session, "stopped"});
}

void Router::stop_sessions(Out &out, ConnectionId id) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.connection != id) {
      ++it;
      continue;
    }
    MediaRequest request;
    request.kind = MediaRequest::Kind::kStop;
    request.session = it->first;
    request.stream = it->second.stream;
    out.request(std::move(request));
    it = sessions_.erase(it);
  }
}

Router::Out Router::media_answered(const std::string &session, const std::string &sdp) {
  Out out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    MediaRequest request;
    request.kind = MediaRequest::Kind::kStop;
    request.session = session;
    out.request(std::move(request));
    return out;
  }
  out.send(it->second.connection, SessionAnswer{it->second.stream, session, sdp});
  return out;
}

Router::Out Router::media_failed(const std::string &session, ErrorCode code,
                                 const std::string &message) {
  Out out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return out;
  }
  out.send(it->second.connection, Error{code, message, it->second.publish ? "publish" : "play",
                                        it->second.stream, session});
  sessions_.erase(it);
  return out;
}

Router::Out Router::media_ended(const std::string &session, const std::string &reason) {
  Out out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return out;
  }
  out.send(it->second.connection, SessionEnded{it->second.stream, session, reason});
  sessions_.erase(it);
  return out;
}

void Router::on_hello(Out &out, ConnectionId id, Connection &c, Hello &&hello, Now now) {
  if (!c.peer.empty()) {
    error(out, id, ErrorCode::kAlreadyHello, "hello was already accepted", "hello");
    return;
  }
  if (!settings_.token_secret.empty()) {
    if (!hello.token.empty()) {
      auto verified = verify_token(hello.token, settings_.token_secret, now.unix_s);
      if (auto *failure = std::get_if<TokenError>(&verified)) {
        error(out, id, ErrorCode::kUnauthorized, failure->reason, "hello");
        out.close(id, kCloseUnauthorized, failure->reason);
        return;
      }
      c.claims = std::get<Claims>(std::move(verified));
    }
    if (!c.claims) {
      error(out, id, ErrorCode::kUnauthorized, "a token is required", "hello");
      out.close(id, kCloseUnauthorized, "token required");
      return;
    }
  }
  c.peer = "p" + std::to_string(next_peer_++);
  c.name = hello.name.empty() && c.claims ? c.claims->sub : hello.name;
  by_peer_[c.peer] = id;
  Welcome welcome{c.peer, {}};
  if (settings_.ice_servers) {
    welcome.ice_servers = settings_.ice_servers(c.claims ? c.claims->sub : c.peer, now);
  }
  out.send(id, std::move(welcome));
}

void Router::on_join(Out &out, ConnectionId id, Connection &c, Join &&join) {
  if (!c.room.empty()) {
    error(out, id, ErrorCode::kAlreadyInRoom, "already in room " + c.room + "; leave it first",
          "join");
    return;
  }
  if (!settings_.token_secret.empty() && c.claims && !role_allows(c.claims->role, Role::kJoin)) {
    error(out, id, ErrorCode::kForbidden,
          std::string("a token with role ") + role_name(c.claims->role) + " cannot join rooms",
          "join");
    return;
  }
  if (c.claims && !c.claims->room.empty() && c.claims->room != join.room) {
    error(out, id, ErrorCode::kForbidden, "the token does not allow room " + join.room, "join");
    return;
  }
  size_t members = rooms_.member_count(join.room);
  if (members == 0 && static_cast<int64_t>(rooms_.room_count()) >= settings_.limits.rooms) {
    error(
        out, id, ErrorCode::kTooManyRooms,
        "the server has reached its limit of " + std::to_string(settings_.limits.rooms) + " rooms",
        "join");
    return;
  }
  if (static_cast<int64_t>(members) >= settings_.limits.peers_per_room) {
    error(out, id, ErrorCode::kRoomFull,
          "room " + join.room + " is full (" + std::to_string(settings_.limits.peers_per_room) +
              " peers)",
          "join");
    return;
  }
  Joined joined{join.room, {}};
  for (const auto &peer : rooms_.members(join.room)) {
    auto other = by_peer_.find(peer);
    if (other == by_peer_.end()) {
      continue;
    }
    const Connection &o = connections_.at(other->second);
    joined.peers.push_back(PeerInfo{peer, o.name});
    out.send(other->second, PeerJoined{join.room, PeerInfo{c.peer, c.name}});
  }
  rooms_.add_member(join.room, c.peer);
  c.room = std::move(join.room);
  // The joiner learns the room before anyone can address it.
  out.sends.insert(out.sends.begin(), Outgoing<ServerMessage>{id, std::move(joined)});
}

void Router::leave_room(Out &out, Connection &c, const std::string &reason) {
  if (c.room.empty()) {
    return;
  }
  rooms_.remove_member(c.room, c.peer);
  for (const auto &peer : rooms_.members(c.room)) {
    auto other = by_peer_.find(peer);
    if (other != by_peer_.end()) {
      out.send(other->second, PeerLeft{c.room, c.peer, reason});
    }
  }
  c.room.clear();
}

void Router::on_leave(Out &out, ConnectionId id, Connection &c) {
  if (c.room.empty()) {
    error(out, id, ErrorCode::kNotInRoom, "not in a room", "leave");
    return;
  }
  std::string room = c.room;
  leave_room(out, c, "left");
  out.send(id, Left{std::move(room)});
}

void Router::on_relay(Out &out, ConnectionId id, Connection &c, Relay &&relay) {
  const char *type = relay_kind_name(relay.kind);
  if (c.room.empty()) {
    error(out, id, ErrorCode::kNotInRoom, "join a room before signaling a peer", type);
    return;
  }
  auto target = by_peer_.find(relay.peer);
  if (target == by_peer_.end() || target->second == id ||
      connections_.at(target->second).room != c.room) {
    error(out, id, ErrorCode::kUnknownPeer, "no peer " + relay.peer + " in room " + c.room, type);
    return;
  }
  relay.peer = c.peer;
  out.send(target->second, std::move(relay));
  ++out.relayed;
}

void Router::forget(ConnectionId id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    return;
  }
  if (!it->second.peer.empty()) {
    by_peer_.erase(it->second.peer);
  }
  connections_.erase(it);
}

Router::Out Router::disconnect(ConnectionId id, Now) {
  Out out;
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    return out;
  }
  leave_room(out, it->second, "disconnected");
  stop_sessions(out, id);
  forget(id);
  return out;
}

void Router::touch(ConnectionId id, Now now) {
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    it->second.last_seen_ms = now.mono_ms;
  }
}

Router::Out Router::tick(Now now) {
  Out out;
  std::vector<ConnectionId> dead;
  for (const auto &[id, c] : connections_) {
    if (now.mono_ms - c.last_seen_ms > settings_.timeout_ms) {
      dead.push_back(id);
    }
  }
  for (ConnectionId id : dead) {
    leave_room(out, connections_.at(id), "timeout");
    stop_sessions(out, id);
    out.close(id, kCloseTimeout, "keepalive timeout");
    forget(id);
  }
  return out;
}

Router::Out Router::kick(const std::string &peer) {
  Out out;
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) {
    return out;
  }
  ConnectionId id = it->second;
  leave_room(out, connections_.at(id), "kicked");
  stop_sessions(out, id);
  out.send(id, Bye{"removed by an administrator"});
  out.close(id, kCloseKicked, "removed by an administrator");
  forget(id);
  return out;
}

Router::Out Router::shutdown(const std::string &reason) {
  Out out;
  for (auto &[id, c] : connections_) {
    if (!c.room.empty()) {
      rooms_.remove_member(c.room, c.peer);
    }
    stop_sessions(out, id);
    out.send(id, Bye{reason});
    out.close(id, kCloseGoingAway, reason);
  }
  connections_.clear();
  by_peer_.clear();
  return out;
}

std::optional<PeerView> Router::peer(const std::string &id) const {
  auto it = by_peer_.find(id);
  if (it == by_peer_.end()) {
    return std::nullopt;
  }
  const Connection &c = connections_.at(it->second);
  return PeerView{c.peer, c.name, c.room, c.claims ? c.claims->sub : std::string()};
}

std::vector<PeerView> Router::room_peers(const std::string &room) const {
  std::vector<PeerView> out;
  for (const auto &peer : rooms_.members(room)) {
    if (auto view = this->peer(peer)) {
      out.push_back(std::move(*view));
    }
  }
  return out;
}

}  // namespace livepipe::signaling
