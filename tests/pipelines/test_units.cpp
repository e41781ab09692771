// The loader's small parts on their own: JSON paths and positions, closest
// names, pad name patterns, param coercion, the status line.
#define BOOST_TEST_MODULE pipelines_units
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"

#include "catalog.h"
#include "check.h"
#include "params.h"
#include "positions.h"
#include "status.h"
#include "suggest.h"

#include <random>

using namespace livepipe::pipelines;

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

BOOST_AUTO_TEST_SUITE(positions)

BOOST_AUTO_TEST_CASE(paths_quote_names_that_are_not_plain_words) {
  BOOST_TEST(path_member("$", "elements") == "$.elements");
  BOOST_TEST(path_index("$.elements", 2) == "$.elements[2]");
  BOOST_TEST(path_member("$.params", "num-buffers") == "$.params.num-buffers");
  BOOST_TEST(path_member("$.p", "a.b") == "$.p[\"a.b\"]");
  BOOST_TEST(path_member("$.p", "say \"hi\"") == "$.p[\"say \\\"hi\\\"\"]");
  BOOST_TEST(path_member("$.p", "") == "$.p[\"\"]");
  BOOST_TEST(path_parent("$.elements[2].properties.bitrate") == "$.elements[2].properties");
  BOOST_TEST(path_parent("$.elements[2]") == "$.elements");
  BOOST_TEST(path_parent("$.p[\"a.b\"]") == "$.p");
  BOOST_TEST(path_parent("$.p[\"a]\\\"b\"].c") == "$.p[\"a]\\\"b\"]");
  BOOST_TEST(path_parent("$") == "$");
}

BOOST_AUTO_TEST_CASE(members_and_items_have_their_line_and_column) {
  const char *text =
      "{\n"
      "  \"name\": \"x\",\n"
      "  \"elements\": [\n"
      "    {\"id\": \"a\", \"properties\": {\"b\": 1}},\n"
      "\t[true, null, 1.5e3, \"s\\\"}\"],\n"
      "    {}\n"
      "  ],\n"
      "  \"odd key\": {\"\\u00e9t\\u00e9\": 2},\n"
      "  \"été\": 3, \"after\": 4\n"
      "}\n";
  auto map = PositionMap::scan(text);
  BOOST_TEST(map.complete());
  BOOST_TEST(map.max_depth() == 4);
  auto at = [&](const std::string &path) {
    Position p = map.find(path);
    return std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  BOOST_TEST(at("$") == "1:1");
  BOOST_TEST(at("$.name") == "2:3");
  BOOST_TEST(at("$.elements") == "3:3");
  BOOST_TEST(at("$.elements[0]") == "4:5");
  BOOST_TEST(at("$.elements[0].properties.b") == "4:32");
  BOOST_TEST(at("$.elements[1]") == "5:2");
  BOOST_TEST(at("$.elements[1][3]") == "5:22");
  BOOST_TEST(at("$.elements[2]") == "6:5");
  BOOST_TEST(at("$[\"odd key\"]") == "8:3");
  BOOST_TEST(at("$[\"odd key\"].été") == "8:15");
  // Columns count characters: "été" is 3 wide although 5 bytes long.
  BOOST_TEST(at("$.after") == "9:13");
  // Paths the text lacks resolve to their nearest ancestor.
  BOOST_TEST(at("$.elements[0].properties.missing") == "4:17");
  BOOST_TEST(at("$.nothing.deeper") == "1:1");
  BOOST_TEST(map.duplicate_keys().empty());
}

BOOST_AUTO_TEST_CASE(duplicates_are_noted_and_bad_text_is_survived) {
  auto map = PositionMap::scan("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}, \"a\": 3}");
  BOOST_REQUIRE_EQUAL(map.duplicate_keys().size(), 2u);
  BOOST_TEST(map.duplicate_keys()[0] == "$.b.c");
  BOOST_TEST(map.duplicate_keys()[1] == "$.a");
  BOOST_TEST(map.find("$.a").column == 33);  // the value the reader keeps: the last

  for (const char *bad : {"", "{", "[1,", "{\"a\" 1}", "{\"a\": [1, 2}", "\"\\u12\"", "}",
                          "{\"a\":1}}", "[\"\\x\"]", "{\"k\": \"\x01\"}"}) {
    auto partial = PositionMap::scan(bad);
    BOOST_TEST(!partial.complete(), bad);
  }
  std::string deep(PositionMap::kMaxDepth + 10, '[');
  auto stopped = PositionMap::scan(deep);
  BOOST_TEST(stopped.max_depth() == PositionMap::kMaxDepth);
  BOOST_TEST(!stopped.complete());
  // Random bytes never crash the scanner.
  std::mt19937 random(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(random() % 64, ' ');
    for (auto &c : text) {
      c = "{}[]\":,\\ ab1\n\xc3\xa9"[random() % 17];
    }
    PositionMap::scan(text).find("$.a[0]");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(suggestions)

BOOST_AUTO_TEST_CASE(levenshtein) {
  BOOST_TEST(edit_distance("", "") == 0u);
  BOOST_TEST(edit_distance("kitten", "sitting") == 3u);
  BOOST_TEST(edit_distance("x264enc", "x264enc") == 0u);
  BOOST_TEST(edit_distance("abc", "") == 3u);
}

BOOST_AUTO_TEST_CASE(closest_registry_names) {
  auto names = element_factory_names();
  BOOST_TEST(names.size() > 100u);
  BOOST_TEST(closest_names("videotestsrcc", names).front() == "videotestsrc");
  BOOST_TEST(closest_names("x264enx", names).front() == "x264enc");
  // Too far for an edit, but a part of the name.
  BOOST_TEST(closest_names("x264", names).front() == "x264enc");
  BOOST_TEST(closest_names("qqqqqqqqqqqqqqqq", names).empty());
  BOOST_TEST(closest_hint("lpbeuty", names) == " (closest: 'lpbeauty')");
  BOOST_TEST(quoted_list({"a", "b"}) == "'a', 'b'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pads_and_params)

BOOST_AUTO_TEST_CASE(pad_template_patterns) {
  BOOST_TEST(pad_name_matches("src_%u", "src_0"));
  BOOST_TEST(pad_name_matches("src_%u", "src_12"));
  BOOST_TEST(pad_name_matches("src_%u", "src_%u"));
  BOOST_TEST(!pad_name_matches("src_%u", "src_"));
  BOOST_TEST(!pad_name_matches("src_%u", "src_-1"));
  BOOST_TEST(pad_name_matches("src_%d", "src_-1"));
  BOOST_TEST(pad_name_matches("recv_rtp_src_%u_%u_%u", "recv_rtp_src_0_1234_96"));
  BOOST_TEST(pad_name_matches("video_%s", "video_main"));
  BOOST_TEST(!pad_name_matches("video_%s", "video_"));
  BOOST_TEST(!pad_name_matches("video", "audio"));
}

BOOST_AUTO_TEST_CASE(coercion_to_param_types) {
  std::string why;
  ParamDecl port{.name = "port", .type = ParamType::kInt, .min = 1, .max = 65535};
  BOOST_TEST(std::get<int64_t>(*coerce_param(port, Scalar(std::string("8080")), &why)) == 8080);
  BOOST_TEST(std::get<int64_t>(*coerce_param(port, Scalar(80.0), &why)) == 80);
  BOOST_TEST(!coerce_param(port, Scalar(80.5), &why));
  BOOST_TEST(!coerce_param(port, Scalar(std::string("0x50")), &why));
  BOOST_TEST(!coerce_param(port, Scalar(int64_t{0}), &why));
  BOOST_TEST(why == "0 is out of range (1 to 65535)");
  ParamDecl gain{.name = "gain", .type = ParamType::kDouble, .max = 2};
  BOOST_TEST(std::get<double>(*coerce_param(gain, Scalar(std::string("1.5")), &why)) == 1.5);
  BOOST_TEST(!coerce_param(gain, Scalar(std::string("nan")), &why));
  BOOST_TEST(!coerce_param(gain, Scalar(3.0), &why));
  BOOST_TEST(why == "3 is out of range (at most 2)");
  ParamDecl flag{.name = "flag", .type = ParamType::kBool};
  for (const char *yes : {"true", "YES", "on", "1"}) {
    BOOST_TEST(std::get<bool>(*coerce_param(flag, Scalar(std::string(yes)), &why)), yes);
  }
  BOOST_TEST(!std::get<bool>(*coerce_param(flag, Scalar(std::string("Off")), &why)));
  BOOST_TEST(!coerce_param(flag, Scalar(1.0), &why));
  ParamDecl mode{.name = "mode", .type = ParamType::kEnum, .values = {"fast", "slow"}};
  BOOST_TEST(std::get<std::string>(*coerce_param(mode, Scalar(std::string("slow")), &why)) ==
             "slow");
  BOOST_TEST(!coerce_param(mode, Scalar(std::string("fats")), &why));
  BOOST_TEST(why == "\"fats\" is not one of 'fast', 'slow' (closest: 'fast')");
  ParamDecl text{.name = "text", .type = ParamType::kString};
  BOOST_TEST(std::get<std::string>(*coerce_param(text, Scalar(int64_t{5}), &why)) == "5");
  BOOST_TEST(to_text(Scalar(0.1)) == "0.1");
  BOOST_TEST(to_display(Scalar(std::string("a"))) == "\"a\"");
}

BOOST_AUTO_TEST_CASE(example_commands_fill_required_params) {
  DescriptionDecl decl;
  decl.params.push_back(ParamDecl{
      .name = "location", .type = ParamType::kString, .required = true, .example = "out.mp4"});
  decl.params.push_back(ParamDecl{
      .name = "title", .type = ParamType::kString, .required = true, .example = "my show"});
  decl.params.push_back(
      ParamDecl{.name = "bitrate", .type = ParamType::kInt, .default_value = Scalar(int64_t{5})});
  BOOST_TEST(example_command("demo", decl) ==
             "livepipe launch -e -f demo -p location=out.mp4 -p title='my show'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(status)

BOOST_AUTO_TEST_CASE(status_line_text) {
  BOOST_TEST(format_clock(0) == "0:00:00.0");
  BOOST_TEST(format_clock(3723 * GST_SECOND + 450 * GST_MSECOND) == "1:02:03.4");
  StatusSample sample;
  BOOST_TEST(format_status(sample) == "-:--:--.-");
  sample.position = 3 * GST_SECOND + 200 * GST_MSECOND;
  sample.fps = 29.97;
  sample.bits_per_sec = 2130000;
  BOOST_TEST(format_status(sample) == "0:00:03.2  30.0 fps  2.13 Mbit/s");
  sample.duration = 10 * GST_SECOND;
  sample.bits_per_sec = 96000;
  BOOST_TEST(format_status(sample) == "0:00:03.2 / 0:00:10.0  30.0 fps  96 kbit/s");
}

BOOST_AUTO_TEST_CASE(the_meter_counts_frames_and_bytes) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc num-buffers=50 ! video/x-raw,width=32,height=32,format=I420 ! "
      "x264enc ! h264parse ! mp4mux ! fakesink",
      &error);
  BOOST_REQUIRE(pipeline);
  StatusMeter meter(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  gst_element_get_state(pipeline, nullptr, nullptr, GST_CLOCK_TIME_NONE);
  meter.sample();  // finds the pads once caps are set
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND, GST_MESSAGE_EOS);
  BOOST_REQUIRE(message);
  gst_message_unref(message);
  StatusSample sample = meter.sample();
  BOOST_REQUIRE(sample.fps);
  BOOST_REQUIRE(sample.bits_per_sec);
  BOOST_TEST(*sample.fps > 0);
  BOOST_TEST(*sample.bits_per_sec > 0);
  BOOST_REQUIRE(sample.position);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
}

BOOST_AUTO_TEST_SUITE_END()
