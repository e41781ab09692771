// Asynchronous HTTP requests for tests against an in-process server: the
// calling thread keeps iterating its main context so the server can answer.
#pragma once

#include "ws_client.h"

#include <libsoup/soup.h>

#include <string>

namespace livepipe::testing {

struct HttpReply {
  guint status = 0;
  std::string body;
  std::string content_type;
};

// `accept_any_certificate` is for test servers with self-signed certificates.
inline HttpReply http_request(const std::string &method, const std::string &url,
                              const std::string &bearer = "", bool accept_any_certificate = false) {
  SoupSession *session = soup_session_new();
  SoupMessage *msg = soup_message_new(method.c_str(), url.c_str());
  if (accept_any_certificate) {
    g_signal_connect(msg, "accept-certificate",
                     G_CALLBACK(+[](SoupMessage *, GTlsCertificate *, GTlsCertificateFlags,
                                    gpointer) -> gboolean { return TRUE; }),
                     nullptr);
  }
  if (!bearer.empty()) {
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + bearer).c_str());
  }
  HttpReply reply;
  struct State {
    GBytes *bytes = nullptr;
    bool done = false;
  } state;
  soup_session_send_and_read_async(
      session, msg, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *result, gpointer data) {
        auto *s = static_cast<State *>(data);
        s->bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), result, nullptr);
        s->done = true;
      },
      &state);
  iterate_until([&] { return state.done; });
  reply.status = soup_message_get_status(msg);
  if (const char *type =
          soup_message_headers_get_content_type(soup_message_get_response_headers(msg), nullptr)) {
    reply.content_type = type;
  }
  if (state.bytes) {
    gsize size = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(state.bytes, &size));
    reply.body.assign(data ? data : "", size);
    g_bytes_unref(state.bytes);
  }
  g_object_unref(msg);
  g_object_unref(session);
  return reply;
}

}  // namespace livepipe::testing
