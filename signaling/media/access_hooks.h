// Access hooks (docs/configuration.md, "hooks"): before a publish or a play
// is accepted the service POSTs what is asked to a configured HTTP endpoint;
// a 2xx answer allows, anything else denies. A hook that cannot be reached or
// does not answer in time denies: an access check must fail closed.
#pragma once

#include "config.h"
#include "log.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace livepipe::signaling::media {

struct AccessRequest {
  enum class Action { kPublish, kPlay };
  Action action = Action::kPublish;
  std::string stream;
  std::string subject;  // the token's sub; empty without one
  std::string remote;   // the client's address; empty when unknown
  std::map<std::string, std::string> query;
};

struct AccessVerdict {
  bool allowed = true;
  std::string reason;  // why not, for the client
};

class AccessHooks {
 public:
  using Done = std::function<void(const AccessVerdict &)>;

  AccessHooks(const HookSettings &settings, Logger &log);
  ~AccessHooks();  // calls still asking never call back
  AccessHooks(const AccessHooks &) = delete;
  AccessHooks &operator=(const AccessHooks &) = delete;

  bool enabled(AccessRequest::Action action) const;
  // Calls `done` later on the main loop, never from within ask().
  void ask(const AccessRequest &request, Done done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::media
