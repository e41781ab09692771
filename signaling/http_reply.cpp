#include "http_reply.h"

#include "util/json.h"

namespace livepipe::signaling {

void reply_json(SoupServerMessage *msg, guint status, const std::string &body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, body.data(),
                                   body.size());
}

void reply_error(SoupServerMessage *msg, guint status, const std::string &reason) {
  reply_json(msg, status, json::ObjectBuilder().set("error", reason).to_string());
  if (status == SOUP_STATUS_UNAUTHORIZED) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate",
                                 "Bearer");
  }
}

std::string request_body(SoupServerMessage *msg) {
  GBytes *bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize size = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &size));
  std::string out(data ? data : "", size);
  g_bytes_unref(bytes);
  return out;
}

}  // namespace livepipe::signaling
