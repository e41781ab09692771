#include "http_auth.h"

#include "http_reply.h"

#include "token.h"

#include <variant>

namespace livepipe::signaling {
namespace {

void refuse(SoupServerMessage *msg, guint status, const std::string &reason) {
  reply_error(msg, status, reason);
}

}  // namespace

std::string request_token(SoupServerMessage *msg, GHashTable *query) {
  const char *header =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (header && g_ascii_strncasecmp(header, "Bearer ", 7) == 0) {
    return header + 7;
  }
  if (query) {
    if (auto *token = static_cast<const char *>(g_hash_table_lookup(query, "token"))) {
      return token;
    }
  }
  return {};
}

AdminAuth authorize_admin(const Config &config, SoupServerMessage *msg, GHashTable *query) {
  if (config.token_secret.empty()) {
    return AdminAuth::kAllowed;
  }
  auto verified = verify_token(request_token(msg, query), config.token_secret,
                               g_get_real_time() / G_USEC_PER_SEC);
  if (auto *failure = std::get_if<TokenError>(&verified)) {
    refuse(msg, SOUP_STATUS_UNAUTHORIZED, failure->reason);
    return AdminAuth::kUnauthorized;
  }
  if (std::get<Claims>(verified).role != Role::kAdmin) {
    refuse(msg, SOUP_STATUS_FORBIDDEN, "the admin API needs a token with role admin");
    return AdminAuth::kForbidden;
  }
  return AdminAuth::kAllowed;
}

}  // namespace livepipe::signaling
