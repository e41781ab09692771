// Request bodies and JSON replies shared by the service's HTTP endpoints, so
// every endpoint answers errors in the same shape: {"error": "..."}.
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace livepipe::signaling {

// Sets the status and a JSON body.
void reply_json(SoupServerMessage *msg, guint status, const std::string &body);

// Sets the status and {"error": reason}; a 401 also names the Bearer scheme
// (WWW-Authenticate).
void reply_error(SoupServerMessage *msg, guint status, const std::string &reason);

// The whole request body as bytes (empty when there is none).
std::string request_body(SoupServerMessage *msg);

}  // namespace livepipe::signaling
