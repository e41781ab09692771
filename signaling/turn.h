// TURN credentials in coturn's REST form (use-auth-secret): a username that
// carries its own expiry and a password derived from a secret shared with the
// TURN server, so nothing needs to be stored or revoked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace livepipe::signaling {

struct TurnCredentials {
  std::string username;    // "<expiry unix time>:<user>"
  std::string credential;  // base64(HMAC-SHA1(secret, username))
};

TurnCredentials turn_rest_credentials(std::string_view secret, std::string_view user,
                                      int64_t expiry_unix);

}  // namespace livepipe::signaling

#include "config.h"

#include <vector>

namespace livepipe::signaling {

// The ICE servers handed to one peer: the configured STUN and static TURN
// servers, plus REST TURN credentials for `user` valid for the configured TTL.
std::vector<IceServer> ice_servers_for(const Config &config, std::string_view user,
                                       int64_t now_unix);

}  // namespace livepipe::signaling
