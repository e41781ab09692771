// Where rooms and their members live. The routers only talk to this
// interface, so a multi-node deployment can keep rooms in a shared store;
// InMemoryRoomRegistry is the single-process default.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace livepipe::signaling {

class RoomRegistry {
 public:
  virtual ~RoomRegistry() = default;
  virtual size_t room_count() const = 0;
  virtual size_t member_count(const std::string &room) const = 0;  // 0 when absent
  // Members in the order they joined.
  virtual std::vector<std::string> members(const std::string &room) const = 0;
  virtual std::vector<std::string> rooms() const = 0;
  virtual void add_member(const std::string &room, const std::string &peer) = 0;
  // Removes the room itself with its last member.
  virtual void remove_member(const std::string &room, const std::string &peer) = 0;
};

class InMemoryRoomRegistry final : public RoomRegistry {
 public:
  size_t room_count() const override { return rooms_.size(); }
  size_t member_count(const std::string &room) const override;
  std::vector<std::string> members(const std::string &room) const override;
  std::vector<std::string> rooms() const override;
  void add_member(const std::string &room, const std::string &peer) override;
  void remove_member(const std::string &room, const std::string &peer) override;

 private:
  std::unordered_map<std::string, std::vector<std::string>> rooms_;
};

}  // namespace livepipe::signaling
