#include "token.h"

#include "util/json.h"

#include <glib.h>

#include <array>

namespace livepipe::signaling {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

constexpr size_t kMaxTokenLength = 4096;

}  // namespace

const char *role_name(Role role) {
  switch (role) {
    case Role::kJoin:
      return "join";
    case Role::kPublish:
      return "publish";
    case Role::kPlay:
      return "play";
    case Role::kAdmin:
      return "admin";
  }
  return "join";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role role : {Role::kJoin, Role::kPublish, Role::kPlay, Role::kAdmin}) {
    if (name == role_name(role)) {
      return role;
    }
  }
  return std::nullopt;
}

bool role_allows(Role granted, Role wanted) {
  return granted == Role::kAdmin || granted == wanted;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t at) { return static_cast<unsigned char>(bytes[at]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = decode_char(c);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  GHmac *hmac =
      g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(key.data()), key.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar *>(data.data()),
                static_cast<gssize>(data.size()));
  std::array<guint8, 32> digest{};
  gsize length = digest.size();
  g_hmac_get_digest(hmac, digest.data(), &length);
  g_hmac_unref(hmac);
  return std::string(reinterpret_cast<const char *>(digest.data()), length);
}

std::string mint_token(const Claims &claims, std::string_view secret) {
  std::string header = json::ObjectBuilder().set("alg", "HS256").set("typ", "JWT").to_string();
  json::ObjectBuilder payload;
  if (!claims.sub.empty()) {
    payload.set("sub", claims.sub);
  }
  if (!claims.room.empty()) {
    payload.set("room", claims.room);
  }
  if (!claims.stream.empty()) {
    payload.set("stream", claims.stream);
  }
  payload.set("role", role_name(claims.role)).set("exp", claims.exp);
  std::string signing_input =
      base64url_encode(header) + "." + base64url_encode(payload.to_string());
  return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

std::variant<Claims, TokenError> verify_token(std::string_view token, std::string_view secret,
                                              int64_t now_unix) {
  if (token.empty()) {
    return TokenError{"token missing"};
  }
  if (token.size() > kMaxTokenLength) {
    return TokenError{"token too long"};
  }
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return TokenError{"token is not a JWT (header.payload.signature)"};
  }
  auto header_text = base64url_decode(token.substr(0, first));
  auto payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) {
    return TokenError{"token is not valid base64url"};
  }
  json::NodePtr header = json::parse(*header_text, nullptr);
  if (!header || !JSON_NODE_HOLDS_OBJECT(header.get())) {
    return TokenError{"token header is not a JSON object"};
  }
  auto alg = json::get_string(json_node_get_object(header.get()), "alg");
  if (!alg) {
    return TokenError{"token header has no alg"};
  }
  if (*alg != "HS256") {
    return TokenError{"token algorithm " + *alg + " is not accepted (HS256 only)"};
  }
  std::string expected = hmac_sha256(secret, token.substr(0, second));
  if (!constant_time_equal(expected, *signature)) {
    return TokenError{"token signature is invalid"};
  }
  json::NodePtr payload = json::parse(*payload_text, nullptr);
  if (!payload || !JSON_NODE_HOLDS_OBJECT(payload.get())) {
    return TokenError{"token payload is not a JSON object"};
  }
  JsonObject *object = json_node_get_object(payload.get());
  Claims claims;
  auto exp = json::get_int(object, "exp");
  if (!exp) {
    return TokenError{"token has no integer exp claim"};
  }
  claims.exp = *exp;
  if (claims.exp <= now_unix) {
    return TokenError{"token expired"};
  }
  auto role = json::get_string(object, "role");
  if (!role) {
    return TokenError{"token has no role claim"};
  }
  auto parsed_role = role_from_name(*role);
  if (!parsed_role) {
    return TokenError{"token role " + *role + " is unknown"};
  }
  claims.role = *parsed_role;
  claims.sub = json::get_string(object, "sub").value_or("");
  claims.room = json::get_string(object, "room").value_or("");
  claims.stream = json::get_string(object, "stream").value_or("");
  return claims;
}

}  // namespace livepipe::signaling
