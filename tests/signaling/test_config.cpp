// Configuration: defaults, overrides and every problem reported at once.
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include "config.h"

#include <algorithm>

using namespace livepipe::signaling;

namespace {

std::vector<std::string> problems(const std::string &text) {
  auto result = parse_config(text);
  BOOST_REQUIRE(std::holds_alternative<std::vector<std::string>>(result));
  return std::get<std::vector<std::string>>(result);
}

bool mentions(const std::vector<std::string> &list, const std::string &needle) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string &p) { return p.find(needle) != std::string::npos; });
}

}  // namespace

BOOST_AUTO_TEST_CASE(empty_object_gives_laptop_defaults) {
  auto result = parse_config("{}");
  BOOST_REQUIRE(std::holds_alternative<Config>(result));
  const Config &c = std::get<Config>(result);
  BOOST_TEST(c.host == "127.0.0.1");
  BOOST_TEST(c.port == 8080);
  BOOST_TEST(c.limits.max_message_bytes == 65536);
  BOOST_TEST(c.token_secret.empty());
  BOOST_TEST(c.ice_servers.empty());
  BOOST_TEST(!c.tls());
}

BOOST_AUTO_TEST_CASE(full_config_is_read) {
  auto result = parse_config(R"({
    "listen": "0.0.0.0:9000",
    "auth": {"secret": "a-long-enough-secret"},
    "ice": {"stun": ["stun:stun.example.net:3478"],
            "turn": [{"urls": "turn:turn.example.net:3478", "username": "u", "credential": "c"}],
            "turnRest": {"urls": ["turn:127.0.0.1:3478?transport=udp"], "secret": "s", "ttlSeconds": 600}},
    "limits": {"maxMessageBytes": 4096, "messagesPerSecond": 10, "peersPerRoom": 4, "rooms": 7,
               "connections": 100},
    "keepalive": {"intervalSeconds": 5, "timeoutSeconds": 12},
    "shutdown": {"graceMs": 200}
  })");
  BOOST_REQUIRE(std::holds_alternative<Config>(result));
  const Config &c = std::get<Config>(result);
  BOOST_TEST(c.host == "0.0.0.0");
  BOOST_TEST(c.port == 9000);
  BOOST_TEST(c.token_secret == "a-long-enough-secret");
  BOOST_REQUIRE_EQUAL(c.ice_servers.size(), 2u);
  BOOST_TEST(c.ice_servers[1].username == "u");
  BOOST_TEST(c.turn_rest_enabled());
  BOOST_TEST(c.turn_rest.ttl_seconds == 600);
  BOOST_TEST(c.limits.peers_per_room == 4);
  BOOST_TEST(c.limits.rooms == 7);
  BOOST_TEST(c.keepalive_timeout_seconds == 12);
  BOOST_TEST(c.shutdown_grace_ms == 200);
}

BOOST_AUTO_TEST_CASE(every_problem_is_listed_with_its_path) {
  auto list = problems(R"({
    "listen": "localhost",
    "tls": {"cert": "/nonexistent/cert.pem"},
    "auth": {"secret": "short"},
    "ice": {"stun": ["http://x"], "turn": [{"urls": "turn:x"}], "turnRest": {"urls": []}},
    "limits": {"peersPerRoom": 1, "rooms": "many", "bogus": 1},
    "keepalive": {"intervalSeconds": 30, "timeoutSeconds": 10},
    "colour": "blue"
  })");
  for (const char *expected :
       {"$.listen: \"localhost\" is not IP:PORT", "$.tls: needs both cert and key",
        "$.tls.cert: file \"/nonexistent/cert.pem\" does not exist",
        "$.auth.secret: must be at least 16", "$.ice.stun[0]: \"http://x\" is not a stun",
        "$.ice.turn[0].username: is required", "$.ice.turn[0].credential: is required",
        "$.ice.turnRest.urls: must be a URL or a non-empty array",
        "$.ice.turnRest.secret: is required", "$.limits.peersPerRoom: must be an integer from 2",
        "$.limits.rooms: must be an integer", "$.limits.bogus: unknown setting",
        "$.keepalive.timeoutSeconds: must be longer", "$.colour: unknown setting"}) {
    BOOST_TEST(mentions(list, expected), expected);
  }
  BOOST_TEST(list.size() == 14u);
}

BOOST_AUTO_TEST_CASE(syntax_errors_and_wrong_root) {
  auto list = problems("{\n  \"listen\": ,\n}");
  BOOST_REQUIRE_EQUAL(list.size(), 1u);
  BOOST_TEST(list[0].rfind("line 2", 0) == 0u, list[0]);
  BOOST_TEST(problems("[]")[0] == "$: the configuration must be a JSON object, not array");
  auto missing = load_config_file("/nonexistent/livepipe.json");
  BOOST_TEST(std::holds_alternative<std::vector<std::string>>(missing));
}

BOOST_AUTO_TEST_CASE(listen_addresses) {
  std::string host;
  int port = 0;
  BOOST_TEST(parse_listen("127.0.0.1:8080", &host, &port));
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 8080);
  BOOST_TEST(parse_listen("[::1]:0", &host, &port));
  BOOST_TEST(host == "::1");
  BOOST_TEST(parse_listen(":9000", &host, &port));
  BOOST_TEST(host == "0.0.0.0");
  for (auto bad :
       {"8080", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "example.com:80", "1.2.3.4:8a"}) {
    BOOST_TEST(!parse_listen(bad, &host, &port), bad);
  }
}

BOOST_AUTO_TEST_CASE(media_rules_are_read_in_order) {
  auto result = parse_config(R"({"media": {"rules": [
    {"match": "show-*", "description": "webrtc-publish-beauty",
     "params": {"smoothing": 0.8, "bitrate": 900, "name": "x", "on": true}},
    {"match": "*", "description": "mine.json"}]}})");
  BOOST_REQUIRE(std::holds_alternative<Config>(result));
  const auto &rules = std::get<Config>(result).media.rules;
  BOOST_REQUIRE(rules.size() == 2u);
  BOOST_TEST(rules[0].match == "show-*");
  BOOST_TEST(rules[0].params.at("smoothing") == "0.8");
  BOOST_TEST(rules[0].params.at("bitrate") == "900");
  BOOST_TEST(rules[0].params.at("name") == "x");
  BOOST_TEST(rules[0].params.at("on") == "true");
  BOOST_TEST(rules[1].description == "mine.json");
  BOOST_TEST(std::get<Config>(result).media.beauty_description == "webrtc-publish-beauty");
}

BOOST_AUTO_TEST_CASE(media_rule_problems_are_all_reported) {
  auto list = problems(R"({"media": {"rules": [
    {"description": "a"}, {"match": "", "description": "b", "params": {"x": [1]}},
    {"match": "c", "description": "d", "other": 1}, 7]}})");
  BOOST_TEST(mentions(list, "$.media.rules[0].match: is required"));
  BOOST_TEST(mentions(list, "$.media.rules[1].match: must not be empty"));
  BOOST_TEST(mentions(list, "$.media.rules[1].params.x: must be a string, number or boolean"));
  BOOST_TEST(mentions(list, "$.media.rules[2].other: unknown setting"));
  BOOST_TEST(mentions(list, "$.media.rules[3]: must be an object"));
  // The description check sees only the rules without problems of their own.
  size_t checked = 0;
  parse_config(
      R"({"media": {"rules": [{"description": "a"}, {"match": "b", "description": "c"}]}})",
      [&](const MediaSettings &media) {
        checked = media.rules.size();
        return std::vector<std::string>{"$.media.rules[1]: description c not found"};
      });
  BOOST_TEST(checked == 1u);
  BOOST_TEST(mentions(problems(R"({"media": {"rules": {}}})"), "$.media.rules: must be an array"));
}

BOOST_AUTO_TEST_CASE(access_hooks_are_read_and_checked) {
  auto result = parse_config(
      R"({"hooks": {"onPublish": "http://127.0.0.1:9000/publish", "timeoutMs": 500}})");
  BOOST_REQUIRE(std::holds_alternative<Config>(result));
  const HookSettings &hooks = std::get<Config>(result).hooks;
  BOOST_TEST(hooks.on_publish == "http://127.0.0.1:9000/publish");
  BOOST_TEST(hooks.on_play.empty());
  BOOST_TEST(hooks.timeout_ms == 500);
  BOOST_TEST(std::get<Config>(parse_config("{}")).hooks.timeout_ms == 2000);

  auto list = problems(R"({"hooks": {"onPublish": "https://example.com/x", "onPlay": "nope",
                                     "timeoutMs": 0, "onDone": "http://a/"}})");
  BOOST_TEST(list.size() == 4u);
  BOOST_TEST(mentions(list, "$.hooks.onPublish: \"https://example.com/x\" is not an http:// URL"));
  BOOST_TEST(mentions(list, "$.hooks.onPlay"));
  BOOST_TEST(mentions(list, "$.hooks.timeoutMs: must be an integer from 100 to 60000"));
  BOOST_TEST(mentions(list, "$.hooks.onDone: unknown setting"));
}

BOOST_AUTO_TEST_CASE(notifications_are_read_and_checked) {
  auto result = parse_config(R"({"hooks": {"onPublishDone": "http://127.0.0.1:9000/done",
    "onRecordDone": "https://hooks.example.com/rec", "onModeration": "http://a/m",
    "notifyAttempts": 3, "notifyBackoffMs": 250}})");
  BOOST_REQUIRE(std::holds_alternative<Config>(result));
  const HookSettings &hooks = std::get<Config>(result).hooks;
  BOOST_TEST(hooks.on_publish_done == "http://127.0.0.1:9000/done");
  BOOST_TEST(hooks.on_record_done == "https://hooks.example.com/rec");
  BOOST_TEST(hooks.on_moderation == "http://a/m");
  BOOST_TEST(hooks.notify_attempts == 3);
  BOOST_TEST(hooks.notify_backoff_ms == 250);
  const HookSettings defaults = std::get<Config>(parse_config("{}")).hooks;
  BOOST_TEST(defaults.on_moderation.empty());
  BOOST_TEST(defaults.notify_attempts == 5);

  auto list = problems(R"({"hooks": {"onPublishDone": "ftp://a/", "onRecordDone": "http://",
                                     "onModeration": 3, "notifyAttempts": 0,
                                     "notifyBackoffMs": 5}})");
  BOOST_TEST(list.size() == 5u);
  BOOST_TEST(
      mentions(list, "$.hooks.onPublishDone: \"ftp://a/\" is not an http:// or https:// URL"));
  BOOST_TEST(mentions(list, "$.hooks.onRecordDone"));
  BOOST_TEST(mentions(list, "$.hooks.onModeration: must be a string"));
  BOOST_TEST(mentions(list, "$.hooks.notifyAttempts: must be an integer from 1 to 20"));
  BOOST_TEST(mentions(list, "$.hooks.notifyBackoffMs: must be an integer from 10 to 600000"));
}

BOOST_AUTO_TEST_CASE(moderation_settings_are_read_and_checked) {
  const ModerationSettings defaults = std::get<Config>(parse_config("{}")).moderation;
  BOOST_TEST(defaults.description == "webrtc-publish-moderated-passthrough");
  BOOST_TEST(defaults.hook_uri.empty());
  BOOST_TEST(defaults.interval_ms == 1000);
  BOOST_TEST(defaults.on_error == "fail-open");

  for (const char *hook : {"https://mod.example.com/v1", "exec:/usr/bin/classify --fast"}) {
    auto result = parse_config(std::string(R"({"moderation": {"hookUri": ")") + hook +
                               R"(", "intervalMs": 250, "timeoutMs": 900,
        "onError": "fail-closed", "authToken": "t", "maxSize": 320,
        "description": "my-moderated.json"}})");
    BOOST_REQUIRE(std::holds_alternative<Config>(result));
    const ModerationSettings &m = std::get<Config>(result).moderation;
    BOOST_TEST(m.hook_uri == hook);
    BOOST_TEST(m.interval_ms == 250);
    BOOST_TEST(m.timeout_ms == 900);
    BOOST_TEST(m.on_error == "fail-closed");
    BOOST_TEST(m.auth_token == "t");
    BOOST_TEST(m.max_size == 320);
    BOOST_TEST(m.description == "my-moderated.json");
  }

  auto list = problems(R"({"moderation": {"hookUri": "exec:relative", "intervalMs": 5,
    "timeoutMs": "1s", "onError": "ignore", "description": "", "hook": "x"}})");
  BOOST_TEST(list.size() == 6u);
  BOOST_TEST(mentions(list, "$.moderation.hookUri: \"exec:relative\" is not an http(s):// URL"));
  BOOST_TEST(mentions(list, "$.moderation.intervalMs: must be an integer from 100 to 3600000"));
  BOOST_TEST(mentions(list, "$.moderation.timeoutMs"));
  BOOST_TEST(mentions(list, "$.moderation.onError: must be fail-open or fail-closed"));
  BOOST_TEST(mentions(list, "$.moderation.description: must not be empty"));
  BOOST_TEST(mentions(list, "$.moderation.hook: unknown setting"));
  BOOST_TEST(
      mentions(problems(R"({"moderation": {"hookUri": "http://"}})"), "$.moderation.hookUri"));
}

BOOST_AUTO_TEST_CASE(viewer_transport_settings) {
  auto defaults = parse_config("{}");
  BOOST_REQUIRE(std::holds_alternative<Config>(defaults));
  const MediaSettings &media = std::get<Config>(defaults).media;
  BOOST_TEST(media.viewer_transport == "shared");
  BOOST_TEST(media.udp_port == 0);
  BOOST_TEST(media.announce_addresses.empty());
  auto set = parse_config(
      R"({"media": {"viewerTransport": "webrtcbin", "udpPort": 8189,
                    "iceAddresses": ["10.0.0.5"], "announceAddresses": ["203.0.113.7", "2001:db8::1"]}})");
  BOOST_REQUIRE(std::holds_alternative<Config>(set));
  const MediaSettings &read = std::get<Config>(set).media;
  BOOST_TEST(read.viewer_transport == "webrtcbin");
  BOOST_TEST(read.udp_port == 8189);
  BOOST_TEST(read.ice_addresses == std::vector<std::string>{"10.0.0.5"});
  BOOST_TEST(read.announce_addresses == (std::vector<std::string>{"203.0.113.7", "2001:db8::1"}));
  auto bad = problems(
      R"({"media": {"viewerTransport": "udp", "udpPort": 70000, "announceAddresses": ["public"]}})");
  BOOST_TEST(mentions(bad, "$.media.viewerTransport"));
  BOOST_TEST(mentions(bad, "$.media.udpPort"));
  BOOST_TEST(mentions(bad, "$.media.announceAddresses[0]: must be an IP address"));
}
