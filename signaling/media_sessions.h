// The seam between the WebSocket protocol and server-side media: the router
// decides who may publish or play what; an implementation of this interface
// (the WHIP/WHEP media service) runs the sessions on the same streams.
#pragma once

#include "messages.h"

#include <functional>
#include <optional>
#include <string>

namespace livepipe::signaling {

class MediaSessions {
 public:
  // Who asks (for access hooks): the token's subject and the client's
  // address; empty when unknown.
  struct Client {
    std::string subject;
    std::string remote;
  };

  // Replies, on the main context (possibly from within the request's call).
  struct Events {
    std::function<void(const std::string &session, const std::string &answer)> answered;
    std::function<void(const std::string &session, ErrorCode code, const std::string &message)>
        failed;
    // The session ended without the client asking: stream ended, kicked, ...
    std::function<void(const std::string &session, const std::string &reason)> ended;
  };

  virtual ~MediaSessions() = default;
  virtual void set_events(Events events) = 0;
  virtual void publish(const std::string &session, const std::string &stream,
                       const std::string &offer, const Client &client) = 0;
  virtual void play(const std::string &session, const std::string &stream, const std::string &offer,
                    const Client &client) = 0;
  virtual void add_candidate(const std::string &session, const std::optional<std::string> &mid,
                             std::optional<int64_t> mline, const std::string &candidate) = 0;
  // The client stopped it or went away; no event follows.
  virtual void stop(const std::string &session) = 0;
};

}  // namespace livepipe::signaling
