#include "registry.h"

#include <algorithm>

namespace livepipe::signaling {

size_t InMemoryRoomRegistry::member_count(const std::string &room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.size();
}

std::vector<std::string> InMemoryRoomRegistry::members(const std::string &room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> InMemoryRoomRegistry::rooms() const {
  std::vector<std::string> names;
  names.reserve(rooms_.size());
  for (const auto &[name, members] : rooms_) {
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void InMemoryRoomRegistry::add_member(const std::string &room, const std::string &peer) {
  auto &members = rooms_[room];
  if (std::find(members.begin(), members.end(), peer) == members.end()) {
    members.push_back(peer);
  }
}

void InMemoryRoomRegistry::remove_member(const std::string &room, const std::string &peer) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    return;
  }
  auto &members = it->second;
  members.erase(std::remove(members.begin(), members.end(), peer), members.end());
  if (members.empty()) {
    rooms_.erase(it);
  }
}

}  // namespace livepipe::signaling
