#include "turn.h"

#include "util/gstptr.h"

#include <glib.h>

#include <array>

namespace livepipe::signaling {

TurnCredentials turn_rest_credentials(std::string_view secret, std::string_view user,
                                      int64_t expiry_unix) {
  TurnCredentials out;
  out.username = std::to_string(expiry_unix);
  out.username += ':';
  out.username += user;
  GHmac *hmac =
      g_hmac_new(G_CHECKSUM_SHA1, reinterpret_cast<const guchar *>(secret.data()), secret.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar *>(out.username.data()),
                static_cast<gssize>(out.username.size()));
  std::array<guint8, 20> digest{};
  gsize length = digest.size();
  g_hmac_get_digest(hmac, digest.data(), &length);
  g_hmac_unref(hmac);
  GCharPtr encoded(g_base64_encode(digest.data(), length));
  out.credential = encoded.get();
  return out;
}

}  // namespace livepipe::signaling

namespace livepipe::signaling {

std::vector<IceServer> ice_servers_for(const Config &config, std::string_view user,
                                       int64_t now_unix) {
  std::vector<IceServer> servers = config.ice_servers;
  if (config.turn_rest_enabled()) {
    TurnCredentials credentials = turn_rest_credentials(config.turn_rest.secret, user,
                                                        now_unix + config.turn_rest.ttl_seconds);
    servers.push_back(IceServer{config.turn_rest.urls, std::move(credentials.username),
                                std::move(credentials.credential)});
  }
  return servers;
}

}  // namespace livepipe::signaling
