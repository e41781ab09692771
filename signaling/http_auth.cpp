#include "http_auth.h"

#include "token.h"
#include "util/json.h"

#include <variant>

namespace livepipe::signaling {
namespace {

void refuse(SoupServerMessage *msg, guint status, const std::string &reason) {
  std::string body = json::ObjectBuilder().set("error", reason).to_string();
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, body.data(),
                                   body.size());
  if (status == SOUP_STATUS_UNAUTHORIZED) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate",
                                 "Bearer");
  }
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
