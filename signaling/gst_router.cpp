#include "gst_router.h"

#include "messages.h"

#include <utility>

namespace livepipe::signaling {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits off the first whitespace-separated word.
std::string_view next_word(std::string_view *s) {
  *s = trim(*s);
  size_t end = 0;
  while (end < s->size() && !is_space((*s)[end])) {
    ++end;
  }
  std::string_view word = s->substr(0, end);
  s->remove_prefix(end);
  return word;
}

bool valid_uid(std::string_view uid) {
  if (uid.empty() || uid.size() > 128) {
    return false;
  }
  for (char c : uid) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

GstRouter::GstRouter(GstRouterSettings settings, RoomRegistry &rooms)
    : settings_(std::move(settings)), rooms_(rooms) {}

GstRouter::Out GstRouter::connect(ConnectionId id, Now now) {
  Out out;
  if (static_cast<int64_t>(connections_.size()) >= settings_.limits.connections) {
    out.send(id, "ERROR server full");
    out.close(id, kCloseTryAgainLater, "server full");
    return out;
  }
  Connection c;
  c.last_seen_ms = now.mono_ms;
  c.gate = InboundGate(settings_.limits.messages_per_second, settings_.limits.max_message_bytes,
                       now.mono_ms);
  connections_.emplace(id, std::move(c));
  return out;
}

GstRouter::Out GstRouter::receive(ConnectionId id, std::string_view text, Now now) {
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
      out.send(id, "ERROR message too large (limit " +
                       std::to_string(settings_.limits.max_message_bytes) + " bytes)");
      return out;
    case InboundGate::Verdict::kRateLimited:
      out.send(id, "ERROR rate limited");
      return out;
    case InboundGate::Verdict::kRateLimitedQuietly:
      return out;
  }
  if (c.uid.empty()) {
    on_hello(out, id, c, text);
    return out;
  }
  if (!c.session.empty()) {
    // In a 1-1 session everything is the peers' business and goes through verbatim.
    auto other = by_uid_.find(c.session);
    if (other != by_uid_.end()) {
      out.send(other->second, std::string(text));
      ++out.relayed;
    }
    return out;
  }
  if (!c.room.empty()) {
    in_room(out, id, c, text);
    return out;
  }
  std::string_view rest = text;
  std::string_view command = next_word(&rest);
  if (command == "SESSION") {
    on_session(out, id, c, rest);
  } else if (command == "ROOM") {
    on_room(out, id, c, rest);
  } else {
    out.send(id, "ERROR unknown command " + std::string(command.substr(0, 64)));
  }
  return out;
}

void GstRouter::on_hello(Out &out, ConnectionId id, Connection &c, std::string_view text) {
  std::string_view rest = text;
  std::string_view command = next_word(&rest);
  if (command != "HELLO") {
    out.close(id, kCloseProtocolError, "invalid protocol");
    return;
  }
  std::string_view uid = next_word(&rest);
  bool generated = uid.empty();
  std::string chosen = generated ? "peer-" + std::to_string(next_uid_++) : std::string(uid);
  while (generated && by_uid_.count(chosen)) {
    chosen = "peer-" + std::to_string(next_uid_++);
  }
  if (!trim(rest).empty() || !valid_uid(chosen) || by_uid_.count(chosen)) {
    out.close(id, kCloseProtocolError, "invalid peer uid");
    return;
  }
  c.uid = chosen;
  by_uid_[chosen] = id;
  out.send(id, generated ? "HELLO " + chosen : std::string("HELLO"));
}

void GstRouter::on_session(Out &out, ConnectionId id, Connection &c, std::string_view rest) {
  std::string callee(next_word(&rest));
  std::string_view option = next_word(&rest);
  auto target = by_uid_.find(callee);
  if (callee.empty() || target == by_uid_.end() || target->second == id) {
    out.send(id, "ERROR peer '" + callee.substr(0, 128) + "' not found");
    return;
  }
  Connection &other = connections_.at(target->second);
  if (!other.session.empty() || !other.room.empty()) {
    out.send(id, "ERROR peer '" + callee + "' busy");
    return;
  }
  c.session = callee;
  other.session = c.uid;
  out.send(id, "SESSION_OK");
  if (option == "OFFER_REQUEST") {
    out.send(target->second, "OFFER_REQUEST");
  }
}

void GstRouter::on_room(Out &out, ConnectionId id, Connection &c, std::string_view rest) {
  std::string room(next_word(&rest));
  if (!valid_room_name(room) || room == "session" || !trim(rest).empty()) {
    out.send(id, "ERROR invalid room id " + room.substr(0, 64));
    return;
  }
  size_t members = rooms_.member_count(room);
  if (members == 0 && static_cast<int64_t>(rooms_.room_count()) >= settings_.limits.rooms) {
    out.send(id, "ERROR too many rooms");
    return;
  }
  if (static_cast<int64_t>(members) >= settings_.limits.peers_per_room) {
    out.send(id, "ERROR room " + room + " is full");
    return;
  }
  std::string ok = "ROOM_OK ";
  bool first = true;
  for (const auto &peer : rooms_.members(room)) {
    ok += first ? "" : " ";
    ok += peer;
    first = false;
  }
  out.send(id, std::move(ok));
  for (const auto &peer : rooms_.members(room)) {
    out.send(by_uid_.at(peer), "ROOM_PEER_JOINED " + c.uid);
  }
  rooms_.add_member(room, c.uid);
  c.room = std::move(room);
}

void GstRouter::in_room(Out &out, ConnectionId id, Connection &c, std::string_view text) {
  std::string_view rest = text;
  std::string_view command = next_word(&rest);
  if (command == "ROOM_PEER_MSG") {
    std::string target(next_word(&rest));
    // The payload is everything after the uid, kept byte for byte.
    std::string_view payload = rest.empty() ? rest : rest.substr(1);
    auto other = by_uid_.find(target);
    if (other == by_uid_.end()) {
      out.send(id, "ERROR peer '" + target.substr(0, 128) + "' not found");
      return;
    }
    if (connections_.at(other->second).room != c.room) {
      out.send(id, "ERROR peer '" + target + "' is not in the room");
      return;
    }
    std::string message = "ROOM_PEER_MSG " + c.uid + " ";
    message.append(payload);
    out.send(other->second, std::move(message));
    ++out.relayed;
    return;
  }
  if (command == "ROOM_PEER_LIST" && trim(rest).empty()) {
    std::string list = "ROOM_PEER_LIST";
    for (const auto &peer : rooms_.members(c.room)) {
      if (peer != c.uid) {
        list += " " + peer;
      }
    }
    out.send(id, std::move(list));
    return;
  }
  out.send(id, "ERROR invalid msg, already in room");
}

void GstRouter::detach(Out &out, Connection &c) {
  if (!c.session.empty()) {
    // As in the original server, a session ends for both sides by closing
    // the other connection: the protocol has no "session ended" message.
    auto other = by_uid_.find(c.session);
    if (other != by_uid_.end()) {
      ConnectionId other_id = other->second;
      connections_.at(other_id).session.clear();
      out.close(other_id, kCloseNormal, "peer " + c.uid + " hung up");
      forget(other_id);
    }
    c.session.clear();
  }
  if (!c.room.empty()) {
    rooms_.remove_member(c.room, c.uid);
    for (const auto &peer : rooms_.members(c.room)) {
      out.send(by_uid_.at(peer), "ROOM_PEER_LEFT " + c.uid);
    }
    c.room.clear();
  }
}

void GstRouter::forget(ConnectionId id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    return;
  }
  if (!it->second.uid.empty()) {
    by_uid_.erase(it->second.uid);
  }
  connections_.erase(it);
}

GstRouter::Out GstRouter::disconnect(ConnectionId id, Now) {
  Out out;
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    return out;
  }
  detach(out, it->second);
  forget(id);
  return out;
}

void GstRouter::touch(ConnectionId id, Now now) {
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    it->second.last_seen_ms = now.mono_ms;
  }
}

GstRouter::Out GstRouter::tick(Now now) {
  Out out;
  std::vector<ConnectionId> dead;
  for (const auto &[id, c] : connections_) {
    if (now.mono_ms - c.last_seen_ms > settings_.timeout_ms) {
      dead.push_back(id);
    }
  }
  for (ConnectionId id : dead) {
    auto it = connections_.find(id);
    if (it == connections_.end()) {
      continue;  // closed already as the other half of a session
    }
    detach(out, it->second);
    out.close(id, kCloseTimeout, "keepalive timeout");
    forget(id);
  }
  return out;
}

GstRouter::Out GstRouter::kick(const std::string &uid) {
  Out out;
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) {
    return out;
  }
  ConnectionId id = it->second;
  detach(out, connections_.at(id));
  out.close(id, kCloseKicked, "removed by an administrator");
  forget(id);
  return out;
}

GstRouter::Out GstRouter::shutdown(const std::string &reason) {
  Out out;
  for (auto &[id, c] : connections_) {
    if (!c.room.empty()) {
      rooms_.remove_member(c.room, c.uid);
    }
    out.close(id, kCloseGoingAway, reason);
  }
  connections_.clear();
  by_uid_.clear();
  return out;
}

}  // namespace livepipe::signaling
