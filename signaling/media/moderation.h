// Moderated streams in the service (docs/moderation.md, "In the service"):
// follows the lpmoderator of every stream whose description has one (the
// element "moderator"), keeps its current verdict and the last hook results,
// ends the stream on an "end" verdict, sends hooks.onModeration on each
// verdict change, and serves /api/v1/streams/{stream}/moderation (the
// verdict and results; an operator forces or releases a verdict). Runs on
// the main context.
#pragma once

#include "config.h"
#include "log.h"
#include "notifier.h"
#include "service.h"

#include <libsoup/soup.h>

#include <memory>
#include <string>

namespace livepipe::signaling {
class Server;
}

namespace livepipe::signaling::media {

// What an operator asks for in POST .../moderation: parsed and checked; the
// reason for the client when the body is not acceptable.
struct ForcedVerdict {
  std::string verdict;  // allow, blur, block, end
  std::string reason;
  int64_t expires_ms = 0;  // 0: until released or forced again
};
std::variant<ForcedVerdict, std::string> parse_forced_verdict(const std::string &body);
// The verdict JSON lpmoderator takes (submit-verdict).
std::string element_verdict_json(const ForcedVerdict &forced);

class ModerationService {
 public:
  // `media` and `notifier` must outlive this object.
  ModerationService(const Config &config, MediaService &media, Notifier &notifier, Logger &log);
  ~ModerationService();
  ModerationService(const ModerationService &) = delete;
  ModerationService &operator=(const ModerationService &) = delete;

  // Adds the admin endpoint (behind the admin token) and the metrics.
  void install(Server &server);
  // /api/v1/streams/{stream}/moderation; false for any other path.
  bool handle_admin(SoupServerMessage *msg, const std::string &method, const std::string &path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::media
