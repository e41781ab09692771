// JSON Web Tokens signed with HS256 (RFC 7519 / RFC 7518): what `livepipe
// token` mints and what every connection presents when a secret is configured.
// Any JWT library can mint compatible tokens with the same secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace livepipe::signaling {

enum class Role { kJoin, kPublish, kPlay, kAdmin };
const char *role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);

struct Claims {
  std::string sub;     // who the token was issued to
  std::string room;    // when set, the only room the bearer may join
  std::string stream;  // when set, the only stream the bearer may publish or play
  Role role = Role::kJoin;
  int64_t exp = 0;  // expiry, seconds since the Unix epoch
};

// What the bearer wants to do; admin tokens may do everything.
bool role_allows(Role granted, Role wanted);

std::string base64url_encode(std::string_view bytes);
// Strict: only the URL-safe alphabet, no padding, no trailing bits set.
std::optional<std::string> base64url_decode(std::string_view text);

// Raw 32-byte HMAC-SHA256 of `data` keyed with `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string mint_token(const Claims &claims, std::string_view secret);

struct TokenError {
  std::string reason;  // shown to the client, e.g. "token expired"
};

// Checks structure, algorithm (HS256 only: "none" and every other algorithm
// are refused), signature (constant time), expiry against `now_unix` and the
// role claim.
std::variant<Claims, TokenError> verify_token(std::string_view token, std::string_view secret,
                                              int64_t now_unix);

}  // namespace livepipe::signaling
