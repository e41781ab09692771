// Tokens (JWT HS256) and TURN REST credentials, checked against published
// test vectors and the failures a server must refuse.
#define BOOST_TEST_MODULE token
#include <boost/test/unit_test.hpp>

#include "token.h"
#include "turn.h"

#include <glib.h>

using namespace livepipe::signaling;

namespace livepipe::signaling {
std::ostream &operator<<(std::ostream &out, Role role) {
  return out << role_name(role);
}
}  // namespace livepipe::signaling

namespace {

constexpr const char *kSecret = "0123456789abcdef-secret";
constexpr int64_t kNow = 1'700'000'000;

Claims claims(Role role = Role::kJoin, int64_t exp = kNow + 60) {
  Claims c;
  c.sub = "alice";
  c.room = "blue";
  c.role = role;
  c.exp = exp;
  return c;
}

std::string error_of(const std::variant<Claims, TokenError> &result) {
  BOOST_REQUIRE(std::holds_alternative<TokenError>(result));
  return std::get<TokenError>(result).reason;
}

// Builds a token with an arbitrary header and payload, signed or not.
std::string forge(const std::string &header, const std::string &payload,
                  const std::string &secret) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  return input + "." + (secret.empty() ? "" : base64url_encode(hmac_sha256(secret, input)));
}

}  // namespace

BOOST_AUTO_TEST_CASE(base64url_round_trips_and_is_strict) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    auto decoded = base64url_decode(base64url_encode(s));
    BOOST_REQUIRE(decoded);
    BOOST_TEST(*decoded == s);
  }
  BOOST_TEST(base64url_encode("\xfb\xff") == "-_8");
  BOOST_TEST(!base64url_decode("ab+/"));   // standard alphabet is not base64url
  BOOST_TEST(!base64url_decode("Zm9v="));  // no padding in JWTs
  BOOST_TEST(!base64url_decode("A"));      // impossible length
  BOOST_TEST(!base64url_decode("Zh"));     // trailing bits set
}

BOOST_AUTO_TEST_CASE(hmac_sha256_matches_rfc7515_example) {
  // RFC 7515 appendix A.1: the HS256 JWS example.
  auto key = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  BOOST_REQUIRE(key);
  std::string input =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  BOOST_TEST(base64url_encode(hmac_sha256(*key, input)) ==
             "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

BOOST_AUTO_TEST_CASE(minted_token_verifies_with_its_claims) {
  std::string token = mint_token(claims(Role::kPublish), kSecret);
  auto result = verify_token(token, kSecret, kNow);
  BOOST_REQUIRE(std::holds_alternative<Claims>(result));
  const Claims &c = std::get<Claims>(result);
  BOOST_TEST(c.sub == "alice");
  BOOST_TEST(c.room == "blue");
  BOOST_TEST(c.role == Role::kPublish);
  BOOST_TEST(c.exp == kNow + 60);
}

BOOST_AUTO_TEST_CASE(expired_token_is_rejected) {
  std::string token = mint_token(claims(Role::kJoin, kNow), kSecret);
  BOOST_TEST(error_of(verify_token(token, kSecret, kNow)) == "token expired");
  BOOST_TEST(std::holds_alternative<Claims>(verify_token(token, kSecret, kNow - 1)));
}

BOOST_AUTO_TEST_CASE(wrong_signature_is_rejected) {
  std::string token = mint_token(claims(), kSecret);
  BOOST_TEST(error_of(verify_token(token, "another-secret-of-16", kNow)) ==
             "token signature is invalid");
  // A payload changed after signing (role raised to admin) must not verify.
  std::string tampered = forge(R"({"alg":"HS256","typ":"JWT"})",
                               R"({"sub":"alice","role":"admin","exp":1700000060})", kSecret);
  tampered = tampered.substr(0, tampered.rfind('.')) + token.substr(token.rfind('.'));
  BOOST_TEST(error_of(verify_token(tampered, kSecret, kNow)) == "token signature is invalid");
}

BOOST_AUTO_TEST_CASE(alg_none_and_other_algorithms_are_rejected) {
  std::string payload = R"({"sub":"mallory","role":"admin","exp":1800000000})";
  std::string none = forge(R"({"alg":"none","typ":"JWT"})", payload, "");
  BOOST_TEST(error_of(verify_token(none, kSecret, kNow)).find("none is not accepted") !=
             std::string::npos);
  // Signed correctly but announcing another algorithm: still refused.
  std::string hs512 = forge(R"({"alg":"HS512"})", payload, kSecret);
  BOOST_TEST(error_of(verify_token(hs512, kSecret, kNow)).find("HS512 is not accepted") !=
             std::string::npos);
  BOOST_TEST(error_of(verify_token(forge("{}", payload, kSecret), kSecret, kNow)) ==
             "token header has no alg");
}

BOOST_AUTO_TEST_CASE(malformed_tokens_are_rejected) {
  BOOST_TEST(error_of(verify_token("", kSecret, kNow)) == "token missing");
  BOOST_TEST(error_of(verify_token("abc", kSecret, kNow)).find("not a JWT") != std::string::npos);
  BOOST_TEST(error_of(verify_token("a.b.c.d", kSecret, kNow)).find("not a JWT") !=
             std::string::npos);
  BOOST_TEST(error_of(verify_token("a+.b.c", kSecret, kNow)) == "token is not valid base64url");
  BOOST_TEST(error_of(verify_token(std::string(5000, 'a'), kSecret, kNow)) == "token too long");
  BOOST_TEST(error_of(verify_token(forge("[1]", "{}", kSecret), kSecret, kNow)) ==
             "token header is not a JSON object");
  std::string header = R"({"alg":"HS256"})";
  BOOST_TEST(error_of(verify_token(forge(header, R"({"role":"join"})", kSecret), kSecret, kNow)) ==
             "token has no integer exp claim");
  BOOST_TEST(error_of(verify_token(forge(header, R"({"exp":1800000000})", kSecret), kSecret,
                                   kNow)) == "token has no role claim");
  BOOST_TEST(error_of(verify_token(forge(header, R"({"exp":1800000000,"role":"root"})", kSecret),
                                   kSecret, kNow)) == "token role root is unknown");
}

BOOST_AUTO_TEST_CASE(roles_allow_only_their_own_use_except_admin) {
  BOOST_TEST(role_allows(Role::kJoin, Role::kJoin));
  BOOST_TEST(!role_allows(Role::kPlay, Role::kJoin));
  BOOST_TEST(!role_allows(Role::kJoin, Role::kAdmin));
  BOOST_TEST(!role_allows(Role::kPublish, Role::kPlay));
  for (Role wanted : {Role::kJoin, Role::kPublish, Role::kPlay, Role::kAdmin}) {
    BOOST_TEST(role_allows(Role::kAdmin, wanted));
  }
  BOOST_TEST(!role_from_name("owner"));
  BOOST_TEST((role_from_name("play") == Role::kPlay));
}

BOOST_AUTO_TEST_CASE(turn_credentials_follow_coturn_rest_algorithm) {
  // base64(HMAC-SHA1("north-secret", "1700000000:alice")), as coturn computes
  // it for use-auth-secret (value from an independent HMAC implementation).
  TurnCredentials c = turn_rest_credentials("north-secret", "alice", 1'700'000'000);
  BOOST_TEST(c.username == "1700000000:alice");
  BOOST_TEST(c.credential == "g+jb180fcj+xlpA/2mP60OdIgU0=");
}

BOOST_AUTO_TEST_CASE(ice_servers_combine_static_and_rest_turn) {
  Config config;
  config.ice_servers.push_back(IceServer{{"stun:127.0.0.1:3478"}, "", ""});
  BOOST_TEST(ice_servers_for(config, "p1", kNow).size() == 1u);
  config.turn_rest.urls = {"turn:127.0.0.1:3478?transport=udp"};
  config.turn_rest.secret = "north-secret";
  config.turn_rest.ttl_seconds = 600;
  auto servers = ice_servers_for(config, "p1", kNow);
  BOOST_REQUIRE_EQUAL(servers.size(), 2u);
  BOOST_TEST(servers[1].username == std::to_string(kNow + 600) + ":p1");
  BOOST_TEST(servers[1].credential ==
             turn_rest_credentials("north-secret", "p1", kNow + 600).credential);
  BOOST_TEST(servers[1].urls.at(0) == "turn:127.0.0.1:3478?transport=udp");
}
