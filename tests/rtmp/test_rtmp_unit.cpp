// RTMP settings and checks without sockets: destination URLs, the "rtmp"
// configuration, publish keys and the nginx configuration ingest writes.
#define BOOST_TEST_MODULE rtmp_unit
#include <boost/test/unit_test.hpp>

#include "config.h"
#include "egress.h"
#include "ingest.h"
#include "token.h"

#include <glib.h>

#include <string>

using namespace livepipe;
using livepipe::signaling::rtmp::check_publish_key;
using livepipe::signaling::rtmp::check_rtmp_url;

BOOST_AUTO_TEST_CASE(rtmp_urls_are_checked) {
  BOOST_TEST(check_rtmp_url("rtmp://127.0.0.1:1935/live/cam").empty());
  BOOST_TEST(check_rtmp_url("rtmps://cdn.example.com/app/key?x=1").empty());
  BOOST_TEST(check_rtmp_url("").find("empty") != std::string::npos);
  BOOST_TEST(check_rtmp_url("http://example.com/live/a").find("rtmp://") != std::string::npos);
  BOOST_TEST(check_rtmp_url("rtmp:///live/a").find("no host") != std::string::npos);
  BOOST_TEST(check_rtmp_url("rtmp://host/live").find("application and a stream") !=
             std::string::npos);
  BOOST_TEST(check_rtmp_url("rtmp://host/live/a b").find("spaces") != std::string::npos);
  BOOST_TEST(!check_rtmp_url(std::string(3000, 'a')).empty());
}

BOOST_AUTO_TEST_CASE(rtmp_config_is_checked) {
  auto good = signaling::parse_config(
      R"({"rtmp": {"destinations": [{"stream": "cam", "url": "rtmp://127.0.0.1/live/{stream}"}],
                   "backoffMaxMs": 4000, "audioRate": 44100}})");
  BOOST_REQUIRE(std::holds_alternative<signaling::Config>(good));
  const auto &config = std::get<signaling::Config>(good);
  BOOST_TEST(config.rtmp.destinations.size() == 1u);
  BOOST_TEST(config.rtmp.destinations[0].stream == "cam");
  BOOST_TEST(config.rtmp.backoff_max_ms == 4000);
  BOOST_TEST(config.rtmp.audio_rate == 44100);
  auto bad = signaling::parse_config(
      R"({"rtmp": {"destinations": [{"url": "http://x/y/z"}, 3], "audioRate": 22050,
                   "backoffInitialMs": 5000, "backoffMaxMs": 1000, "colour": 1}})");
  BOOST_REQUIRE(std::holds_alternative<std::vector<std::string>>(bad));
  std::string all;
  for (const auto &p : std::get<std::vector<std::string>>(bad)) {
    all += p + "\n";
  }
  BOOST_TEST(all.find("$.rtmp.destinations[0].url") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.destinations[1]") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.audioRate") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.backoffMaxMs") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.colour") != std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(ingest_config_is_checked) {
  auto good =
      signaling::parse_config(R"({"rtmp": {"listen": "127.0.0.1:1935", "keys": ["a-long-key"]}})");
  BOOST_REQUIRE(std::holds_alternative<signaling::Config>(good));
  const auto &config = std::get<signaling::Config>(good);
  BOOST_TEST(config.rtmp.listen_host == "127.0.0.1");
  BOOST_TEST(config.rtmp.listen_port == 1935);
  BOOST_TEST(config.rtmp.keys.size() == 1u);
  auto bad = signaling::parse_config(R"({"rtmp": {"listen": "nowhere", "keys": ["short", 3]}})");
  BOOST_REQUIRE(std::holds_alternative<std::vector<std::string>>(bad));
  std::string all;
  for (const auto &p : std::get<std::vector<std::string>>(bad)) {
    all += p + "\n";
  }
  BOOST_TEST(all.find("$.rtmp.listen") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.keys[0]") != std::string::npos, all);
  BOOST_TEST(all.find("$.rtmp.keys[1]") != std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(publish_keys_and_tokens) {
  signaling::Config open;
  const int64_t now = 1800000000;
  BOOST_TEST(check_publish_key(open, {}, "cam", "", now).empty());
  BOOST_TEST(check_publish_key(open, {"the-static-key"}, "cam", "the-static-key", now).empty());
  BOOST_TEST(!check_publish_key(open, {"the-static-key"}, "cam", "guess", now).empty());

  signaling::Config secured;
  secured.token_secret = "0123456789abcdef0123456789abcdef";
  auto mint = [&](signaling::Role role, const std::string &stream, int64_t exp) {
    signaling::Claims claims;
    claims.role = role;
    claims.stream = stream;
    claims.exp = exp;
    return signaling::mint_token(claims, secured.token_secret);
  };
  BOOST_TEST(
      check_publish_key(secured, {}, "cam", mint(signaling::Role::kPublish, "cam", now + 60), now)
          .empty());
  BOOST_TEST(check_publish_key(secured, {}, "cam", "", now).find("required") != std::string::npos);
  BOOST_TEST(check_publish_key(secured, {}, "cam", "garbage", now).size() > 0u);
  BOOST_TEST(
      check_publish_key(secured, {}, "cam", mint(signaling::Role::kPlay, "cam", now + 60), now)
          .find("may not publish") != std::string::npos);
  BOOST_TEST(
      check_publish_key(secured, {}, "cam", mint(signaling::Role::kPublish, "other", now + 60), now)
          .find("for stream other") != std::string::npos);
  BOOST_TEST(
      !check_publish_key(secured, {}, "cam", mint(signaling::Role::kPublish, "cam", now - 60), now)
           .empty());
  BOOST_TEST(check_publish_key(secured, {"the-static-key"}, "cam", "the-static-key", now).empty());
}

BOOST_AUTO_TEST_CASE(nginx_config_calls_back) {
  signaling::rtmp::IngestOptions options;
  options.host = "127.0.0.1";
  options.port = 19999;
  std::string conf =
      signaling::rtmp::nginx_config(options, "/run/lp", "http://127.0.0.1:8080/rtmp/hook/s");
  BOOST_TEST(conf.find("listen 127.0.0.1:19999;") != std::string::npos);
  BOOST_TEST(conf.find("pid /run/lp/nginx.pid;") != std::string::npos);
  BOOST_TEST(conf.find("on_publish http://127.0.0.1:8080/rtmp/hook/s/publish;") !=
             std::string::npos);
  BOOST_TEST(conf.find("on_publish_done http://127.0.0.1:8080/rtmp/hook/s/publish_done;") !=
             std::string::npos);
  BOOST_TEST(conf.find("daemon off;") != std::string::npos);
}
