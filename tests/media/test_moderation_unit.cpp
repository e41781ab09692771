// Moderated streams without sockets: which description and params a stream
// gets (?moderation=on, rules, the configuration's defaults, params only the
// server sets), the admin API's verdict bodies, the notification backoff.
#define BOOST_TEST_MODULE media_moderation_unit
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "pipelines/loader_fixture.h"
#include "moderation.h"
#include "notifier.h"
#include "rules.h"

using namespace livepipe::signaling::media;
using livepipe::testing::presets_dir;

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

const std::map<std::string, std::string> kDefaults = {
    {"moderation-hook", "http://127.0.0.1:9/hook"},
    {"moderation-interval", "750"},
    {"moderation-on-error", "fail-closed"}};

DescriptionChooser chooser(std::vector<DescriptionRule> rules = {}) {
  DescriptionChooser c(presets_dir() / "webrtc-publish-fanout.json",
                       presets_dir() / "webrtc-publish-beauty.json", std::move(rules),
                       {presets_dir()});
  c.set_moderation(presets_dir() / "webrtc-publish-moderated.json", kDefaults);
  return c;
}

std::string refusal(const std::variant<DescriptionChoice, std::string> &chosen) {
  const auto *why = std::get_if<std::string>(&chosen);
  return why ? *why : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(moderation_on_gets_the_moderated_description_and_the_config) {
  auto chosen = chooser().choose("cam", {{"moderation", "on"}});
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<DescriptionChoice>(chosen), refusal(chosen));
  const auto &choice = std::get<DescriptionChoice>(chosen);
  BOOST_TEST(choice.file.filename() == "webrtc-publish-moderated.json");
  BOOST_TEST(choice.moderated);
  BOOST_TEST(choice.params.at("moderation-hook") == "http://127.0.0.1:9/hook");
  BOOST_TEST(choice.params.at("moderation-interval") == "750");
  BOOST_TEST(choice.params.at("moderation-on-error") == "fail-closed");
  BOOST_TEST(choice.params.at("stream-id") == "cam");
  BOOST_TEST(choice.sets_video_codec);

  // Without it: the default description, which moderates nothing and gets
  // none of the moderation params.
  auto plain = std::get<DescriptionChoice>(chooser().choose("cam", {{"moderation", "off"}}));
  BOOST_TEST(plain.file.filename() == "webrtc-publish-fanout.json");
  BOOST_TEST(!plain.moderated);
  BOOST_TEST(plain.params.empty());
}

BOOST_AUTO_TEST_CASE(the_passthrough_moderated_description_is_moderated_and_takes_both_codecs) {
  DescriptionChooser c(presets_dir() / "webrtc-publish-fanout.json",
                       presets_dir() / "webrtc-publish-beauty.json", {}, {presets_dir()});
  c.set_moderation(presets_dir() / "webrtc-publish-moderated-passthrough.json", kDefaults);
  auto chosen = c.choose("cam", {{"moderation", "on"}});
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<DescriptionChoice>(chosen), refusal(chosen));
  const auto &choice = std::get<DescriptionChoice>(chosen);
  BOOST_TEST(choice.moderated);
  BOOST_TEST(choice.params.at("moderation-hook") == "http://127.0.0.1:9/hook");
  BOOST_TEST(choice.params.at("moderation-interval") == "750");
  BOOST_TEST(choice.params.at("stream-id") == "cam");
  BOOST_TEST(choice.sets_video_codec);
  BOOST_TEST((choice.video_codecs == std::vector<Codec>{Codec::kH264, Codec::kVP8}));
  // Its server-set params stay the server's.
  BOOST_TEST(refusal(c.choose("cam", {{"moderation", "on"}, {"moderation-interval", "100"}}))
                 .find("is set by the server") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_rule_moderates_by_name_and_its_params_win) {
  auto c = chooser({{"studio-*",
                     presets_dir() / "webrtc-publish-moderated.json",
                     {{"moderation-interval", "2000"}}}});
  auto chosen = c.choose("studio-1", {});
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<DescriptionChoice>(chosen), refusal(chosen));
  const auto &choice = std::get<DescriptionChoice>(chosen);
  BOOST_TEST(choice.moderated);
  BOOST_TEST(choice.params.at("moderation-interval") == "2000");
  BOOST_TEST(choice.params.at("moderation-hook") == "http://127.0.0.1:9/hook");
  BOOST_TEST(choice.params.at("stream-id") == "studio-1");
  BOOST_TEST(!std::get<DescriptionChoice>(c.choose("other", {})).moderated);
}

BOOST_AUTO_TEST_CASE(a_publisher_cannot_touch_moderation) {
  auto c = chooser();
  for (const char *param : {"moderation-hook", "moderation-on-error", "moderation-interval",
                            "moderation-token", "stream-id"}) {
    BOOST_TEST_CONTEXT(param) {
      BOOST_TEST(refusal(c.choose("cam", {{"moderation", "on"}, {param, "x"}})) ==
                 std::string("param ") + param + " is set by the server, not by the request");
    }
  }
  BOOST_TEST(refusal(c.choose("cam", {{"moderation", "perhaps"}})) ==
             "moderation takes on or off, not \"perhaps\"");
  BOOST_TEST(refusal(c.choose("cam", {{"moderation", "on"}, {"beauty", "on"}})) ==
             "beauty=on and moderation=on cannot be combined: choose one");
  DescriptionChooser without(presets_dir() / "webrtc-publish-fanout.json", {}, {}, {});
  BOOST_TEST(refusal(without.choose("cam", {{"moderation", "on"}})) ==
             "this server has no moderated description for moderation=on");
}

BOOST_AUTO_TEST_CASE(forced_verdict_bodies) {
  auto ok = parse_forced_verdict(R"({"verdict":"block","reason":"operator","expiresMs":5000})");
  BOOST_REQUIRE(std::holds_alternative<ForcedVerdict>(ok));
  const auto &forced = std::get<ForcedVerdict>(ok);
  BOOST_TEST(forced.verdict == "block");
  BOOST_TEST(forced.reason == "operator");
  BOOST_TEST(forced.expires_ms == 5000);
  BOOST_TEST(element_verdict_json(forced) ==
             R"({"verdict":"block","reason":"operator","expires_ms":5000})");
  auto plain = std::get<ForcedVerdict>(parse_forced_verdict(R"({"verdict":"allow"})"));
  BOOST_TEST(plain.reason == "forced by an administrator");
  BOOST_TEST(element_verdict_json(plain) ==
             R"({"verdict":"allow","reason":"forced by an administrator"})");

  auto why = [](const std::string &body) {
    auto parsed = parse_forced_verdict(body);
    const auto *text = std::get_if<std::string>(&parsed);
    return text ? *text : "";
  };
  BOOST_TEST(why("").find("must be a JSON object") != std::string::npos);
  BOOST_TEST(why("[1]").find("must be a JSON object") != std::string::npos);
  BOOST_TEST(why("{}") == "verdict is required: allow, blur, block or end");
  BOOST_TEST(why(R"({"verdict":"nope"})") ==
             "verdict must be allow, blur, block or end, not \"nope\"");
  BOOST_TEST(why(R"({"verdict":"blur","expiresMs":0})") ==
             "expiresMs must be an integer from 1 to 86400000");
  BOOST_TEST(why(R"({"verdict":"blur","expiresMs":"1s"})") ==
             "expiresMs must be an integer from 1 to 86400000");
  BOOST_TEST(why(R"({"verdict":"end","expiresMs":10})") == "an end verdict cannot expire");
  BOOST_TEST(why(R"({"verdict":"blur","reason":7})") ==
             "reason must be a string of at most 1024 bytes");
  BOOST_TEST(why(R"({"verdict":"blur","reason":")" + std::string(1025, 'r') + "\"}") ==
             "reason must be a string of at most 1024 bytes");
  BOOST_TEST(why(R"({"verdict":"blur","regions":[]})") ==
             "unknown member \"regions\" (verdict, reason, expiresMs)");
  BOOST_TEST(why(std::string(17 * 1024, ' ')) == "the body is larger than 16 KiB");
}

BOOST_AUTO_TEST_CASE(notification_backoff_doubles_up_to_a_minute) {
  BOOST_TEST(retry_delay_ms(500, 2) == 500);
  BOOST_TEST(retry_delay_ms(500, 3) == 1000);
  BOOST_TEST(retry_delay_ms(500, 4) == 2000);
  BOOST_TEST(retry_delay_ms(500, 20) == 60000);
  BOOST_TEST(retry_delay_ms(600000, 2) == 60000);
}
