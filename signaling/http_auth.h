// Admin-token checks shared by every /api/v1 endpoint, whichever part of the
// service serves it, so they all refuse the same way.
#pragma once

#include "config.h"

#include <libsoup/soup.h>

#include <string>

namespace livepipe::signaling {

// The bearer token of an HTTP request: Authorization header or ?token=.
std::string request_token(SoupServerMessage *msg, GHashTable *query);

enum class AdminAuth { kAllowed, kUnauthorized, kForbidden };

// Allowed when no secret is configured or the token has role admin; otherwise
// answers 401 (missing, invalid or expired token) or 403 (another role) with a
// JSON {"error": ...} body, and says which.
AdminAuth authorize_admin(const Config &config, SoupServerMessage *msg, GHashTable *query);

}  // namespace livepipe::signaling
