// The description loader: every validation problem (with JSON path, line
// and column), substitution and type conversion, includes and templates.
#define BOOST_TEST_MODULE loader
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "pipelines/loader_fixture.h"

#include "description.h"
#include "loader.h"

#include <gst/gst.h>

using namespace livepipe;
using namespace livepipe::testing;
using pipelines::LoadOptions;

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

// Reads a property of the element with description id `id`.
template <typename T>
T property(const pipelines::LoadResult &result, const char *id, const char *name) {
  GstElement *element = result.pipeline->find(id);
  BOOST_REQUIRE_MESSAGE(element, "no element " << id);
  T value{};
  g_object_get(element, name, &value, nullptr);
  return value;
}

const char *kMinimal = R"({
  "name": "minimal",
  "summary": "a source and a sink",
  "elements": [
    {"id": "src", "factory": "fakesrc", "properties": {"num-buffers": 3}},
    {"id": "sink", "factory": "fakesink"}
  ],
  "links": [{"from": "src", "to": "sink"}]
})";

}  // namespace

BOOST_AUTO_TEST_SUITE(building)

BOOST_AUTO_TEST_CASE(a_valid_description_builds_a_pipeline_with_ids_as_names) {
  auto result = load_text(kMinimal);
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE(result.pipeline);
  BOOST_TEST(GST_IS_PIPELINE(result.pipeline->element()));
  BOOST_TEST(!result.pipeline->is_branch());
  BOOST_TEST(result.pipeline->name() == "minimal");
  BOOST_TEST(property<int>(result, "src", "num-buffers") == 3);
  BOOST_TEST(pipelines::describe_object(GST_OBJECT(result.pipeline->find("sink"))) == "sink");
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
}

BOOST_AUTO_TEST_CASE(check_only_creates_nothing) {
  auto result = load_text(kMinimal, LoadOptions{.build = false});
  BOOST_TEST(result.ok());
  BOOST_TEST(!result.pipeline);
}

BOOST_AUTO_TEST_CASE(a_runtime_error_names_the_element_by_its_id) {
  auto result = load_text(R"({
    "name": "broken", "summary": "reads a file that is not there",
    "elements": [
      {"id": "input", "factory": "filesrc", "properties": {"location": "/nonexistent/x"}},
      {"id": "out", "factory": "fakesink"}
    ],
    "links": [{"from": "input", "to": "out"}]
  })");
  BOOST_REQUIRE(result.ok());
  GstElement *pipeline = result.pipeline->element();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline));
  MiniPtr<GstMessage> message(
      gst_bus_timed_pop_filtered(bus.get(), 10 * GST_SECOND, GST_MESSAGE_ERROR));
  BOOST_REQUIRE(message);
  BOOST_TEST(pipelines::describe_object(GST_MESSAGE_SRC(message.get())) == "input");
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(unknown_factory_suggests_the_closest_names) {
  auto result = load_text(R"({
  "name": "t", "summary": "s",
  "elements": [
    {"id": "src", "factory": "videotestsrcc"},
    {"id": "sink", "factory": "fakesink"}
  ],
  "links": [{"from": "src", "to": "sink"}]
})");
  BOOST_TEST(!result.pipeline);
  expect_problem(result, "unknown factory 'videotestsrcc'", "$.elements[0].factory", 4, 19);
  BOOST_TEST(find_problem(result, "closest: 'videotestsrc'"));
}

BOOST_AUTO_TEST_CASE(unknown_property_suggests_the_closest_names) {
  auto result = load_text(R"({
  "name": "t", "summary": "s",
  "elements": [
    {"id": "src", "factory": "videotestsrc", "properties": {"num-buffer": 10}},
    {"id": "sink", "factory": "fakesink"}
  ],
  "links": [{"from": "src", "to": "sink"}]
})");
  expect_problem(result, "unknown property 'num-buffer' of videotestsrc",
                 "$.elements[0].properties.num-buffer", 4, 61);
  BOOST_TEST(find_problem(result, "closest: 'num-buffers'"));
}

BOOST_AUTO_TEST_CASE(value_of_the_wrong_type) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"num-buffers": "many"}},
      {"id": "enc", "factory": "x264enc", "properties": {"speed-preset": "warp"}},
      {"id": "sink", "factory": "fakesink", "properties": {"sync": "maybe"}}
    ],
    "links": [{"from": "src", "to": "enc"}, {"from": "enc", "to": "sink"}]})");
  expect_problem(result, "\"many\" is not an integer", "$.elements[0].properties.num-buffers");
  expect_problem(result, "\"warp\" is not one of None, ultrafast",
                 "$.elements[1].properties.speed-preset");
  expect_problem(result, "\"maybe\" is not a boolean", "$.elements[2].properties.sync");
}

BOOST_AUTO_TEST_CASE(value_out_of_range) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"num-buffers": -2}},
      {"id": "beauty", "factory": "lpbeauty", "properties": {"smoothing": 1.5}},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "beauty"}, {"from": "beauty", "to": "sink"}]})");
  expect_problem(result, "-2 is out of range (-1 to 2147483647)",
                 "$.elements[0].properties.num-buffers");
  expect_problem(result, "1.5 is out of range (0 to 1)", "$.elements[1].properties.smoothing");
}

BOOST_AUTO_TEST_CASE(missing_required_param) {
  const char *text = R"({"name": "t", "summary": "s",
    "params": {"location": {"type": "string", "required": true, "doc": "file to write"}},
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "sink", "factory": "filesink", "properties": {"location": "${location}"}}
    ],
    "links": [{"from": "src", "to": "sink"}]})";
  auto result = load_text(text);
  expect_problem(result, "missing required param 'location' for 't': file to write", "$.params");
  // With use_examples (livepipe validate) a stand-in value is used.
  BOOST_TEST(load_text(text, LoadOptions{.use_examples = true}).ok());
  BOOST_TEST(load_text(text, LoadOptions{.params = {{"location", "/tmp/x"}}}).ok());
}

BOOST_AUTO_TEST_CASE(unknown_param_given_or_substituted) {
  const char *text = R"({"name": "t", "summary": "s",
    "params": {"count": {"type": "int", "default": 3, "doc": "buffers"}},
    "elements": [
      {"id": "src", "factory": "fakesrc", "properties": {"num-buffers": "${cuont}"}},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "sink"}]})";
  auto result = load_text(text, LoadOptions{.params = {{"conut", "4"}}});
  expect_problem(result, "unknown param 'conut' for 't' (closest: 'count')", "$.params");
  expect_problem(result, "unknown param '${cuont}'", "$.elements[0].properties.num-buffers");
  BOOST_TEST(find_problem(result, "declares no such param (closest: 'count')"));
}

BOOST_AUTO_TEST_CASE(link_to_a_missing_id) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "source", "factory": "fakesrc"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "sourse", "to": "sink"}]})");
  expect_problem(result, "link to missing id 'sourse' (closest: 'source')", "$.links[0].from");
}

BOOST_AUTO_TEST_CASE(pads_that_cannot_link) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "video", "factory": "videotestsrc"},
      {"id": "audio", "factory": "audioconvert"},
      {"id": "sink", "factory": "fakesink"},
      {"id": "src2", "factory": "audiotestsrc"},
      {"id": "sink2", "factory": "fakesink"},
      {"id": "src3", "factory": "audiotestsrc"},
      {"id": "sink3", "factory": "fakesink"}
    ],
    "links": [
      {"from": "video", "to": "audio"},
      {"from": "audio", "to": "sink"},
      {"from": "src2", "to": "sink2", "caps": "video/x-raw"},
      {"from": "src3.video", "to": "sink3"}
    ]})");
  expect_problem(result, "pads cannot link: 'video' (videotestsrc) produces video/x-raw",
                 "$.links[0]");
  BOOST_TEST(find_problem(result, "but 'audio' (audioconvert) accepts audio/x-raw"));
  expect_problem(result, "which the caps filter 'video/x-raw' does not allow", "$.links[2].caps");
  expect_problem(result, "'src3' (audiotestsrc) has no src pad 'video'; its src pads: src (always)",
                 "$.links[3].from");
}

BOOST_AUTO_TEST_CASE(an_always_pad_links_once) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "a", "factory": "fakesink"},
      {"id": "b", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "a"}, {"from": "src", "to": "b"}]})");
  expect_problem(result, "src pad 'src' of 'src' is already linked at $.links[0]", "$.links[1]");
}

BOOST_AUTO_TEST_CASE(a_cycle) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "in", "factory": "funnel"},
      {"id": "a", "factory": "identity"},
      {"id": "b", "factory": "queue"},
      {"id": "src", "factory": "fakesrc"}
    ],
    "links": [
      {"from": "src", "to": "in"},
      {"from": "in", "to": "a"},
      {"from": "a", "to": "b"},
      {"from": "b", "to": "in"}
    ]})");
  expect_problem(result, "links form a cycle: in -> a -> b -> in", "$.links[3]");
}

BOOST_AUTO_TEST_CASE(an_unused_element) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "spare", "factory": "identity"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "sink"}]})");
  expect_problem(result, "unused element 'spare'", "$.elements[1]");
}

BOOST_AUTO_TEST_CASE(a_duplicate_id) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "src", "factory": "fakesink"}
    ],
    "links": []})");
  expect_problem(result, "duplicate id 'src' (also at $.elements[0])", "$.elements[1].id", 4, 8);
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_not_only_the_first) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "params": {"n": {"type": "int", "default": 1, "doc": "n"}},
    "elements": [
      {"id": "src", "factory": "nosuchsrc"},
      {"id": "mid", "factory": "identity", "properties": {"colour": 1, "sync": "${m}"}},
      {"id": "mid", "factory": "identity"},
      {"id": "sink", "factory": "fakesink", "properties": {"sync": "often"}}
    ],
    "links": [{"from": "src", "to": "mid"}, {"from": "mid", "to": "snk"}]})",
                          LoadOptions{.params = {{"x", "1"}}});
  BOOST_TEST_INFO(all_problems(result));
  for (const char *needle :
       {"unknown factory 'nosuchsrc'", "unknown property 'colour'", "unknown param '${m}'",
        "duplicate id 'mid'", "\"often\" is not a boolean", "link to missing id 'snk'",
        "unknown param 'x'"}) {
    BOOST_TEST(find_problem(result, needle), needle);
  }
  BOOST_TEST(result.problems.size() >= 7u);
}

BOOST_AUTO_TEST_CASE(malformed_json_has_a_line_and_column) {
  auto result = load_text("{\n  \"name\": \"t\",\n  \"summary\": \"s\" \"elements\": []\n}");
  BOOST_REQUIRE_EQUAL(result.problems.size(), 1u);
  const auto &problem = result.problems.front();
  BOOST_TEST(problem.message.find("invalid JSON") == 0u);
  BOOST_TEST(problem.line == 3);
  BOOST_TEST(problem.column > 0);
  BOOST_TEST(problem.to_string().find("test.json:3:") == 0u);
}

BOOST_AUTO_TEST_CASE(shape_problems) {
  auto result = load_text(R"({"name": "t", "summary": "s", "lnks": [],
    "params": {
      "a": {"type": "integer", "doc": "x"},
      "b": {"type": "int", "doc": "x", "default": "lots"},
      "c": {"type": "enum", "doc": "x"},
      "d": {"type": "int", "doc": "x", "min": 5, "max": 1},
      "e": {"type": "string", "doc": "x", "required": true, "default": "y"},
      "f": {"type": "string"},
      "g": {"type": "int", "doc": "x", "min": 6001e3080},
      "h": {"type": "int", "doc": "x", "max": 1e19},
      "i": {"type": "double", "doc": "x", "max": 1e19}
    },
    "elements": [
      {"id": "a.b", "factory": "fakesrc"},
      {"id": "x", "factory": "fakesrc", "template": "t"},
      {"id": "y", "factory": "fakesink", "properties": {"sync": [true]}},
      {"id": "z"}
    ],
    "links": [{"from": "x", "to": "y", "colour": "red"}, {"from": "x.", "to": "y"}],
    "slots": {"out": {"element": "y", "kind": "sideways"}}})");
  BOOST_TEST_INFO(all_problems(result));
  expect_problem(result, "unknown member 'lnks' in a description (closest: 'links')", "$.lnks");
  expect_problem(result, "unknown param type 'integer' (closest: 'int')", "$.params.a.type");
  expect_problem(result, "default \"lots\" is not an integer", "$.params.b.default");
  expect_problem(result, "an enum param needs a non-empty 'values' list", "$.params.c");
  expect_problem(result, "min is greater than max", "$.params.d.min");
  expect_problem(result, "a required param cannot have a default", "$.params.e.required");
  expect_problem(result, "missing required member 'doc'", "$.params.f");
  expect_problem(result, "'min' is out of range", "$.params.g.min");
  expect_problem(result, "max of an int param must be a 64-bit integer", "$.params.h.max");
  expect_problem(result, "id 'a.b' is not an identifier", "$.elements[0].id");
  expect_problem(result, "a 'factory' or a 'template', not both", "$.elements[1]");
  expect_problem(result, "a value must be a string, number or boolean, not array",
                 "$.elements[2].properties.sync");
  expect_problem(result, "missing required member 'factory' (or 'template')", "$.elements[3]");
  expect_problem(result, "unknown member 'colour' in a link", "$.links[0].colour");
  expect_problem(result, "'x.' is not an element reference", "$.links[1].from");
  expect_problem(result, "unknown slot kind 'sideways'", "$.slots.out.kind");
}

BOOST_AUTO_TEST_CASE(a_member_twice_in_one_object) {
  auto result = load_text(R"({"name": "t", "summary": "s", "name": "u",
    "elements": [{"id": "src", "factory": "fakesrc"}]})");
  expect_problem(result, "member appears twice in one object", "$.name", 1, 31);
}

BOOST_AUTO_TEST_CASE(absurd_input_is_refused_before_parsing) {
  std::string deep(1000, '[');
  auto result = load_text(deep);
  BOOST_REQUIRE_EQUAL(result.problems.size(), 1u);
  BOOST_TEST(result.problems.front().message.find("nest deeper") != std::string::npos);
  std::string big = "\"" + std::string(pipelines::kMaxDescriptionBytes, 'x') + "\"";
  result = load_text(big);
  BOOST_TEST(result.problems.front().message.find("larger than") != std::string::npos);
  result = load_text("[1, 2]");
  BOOST_TEST(find_problem(result, "must be a JSON object, not array"));
}

BOOST_AUTO_TEST_CASE(slots_must_be_fan_out_or_fan_in_elements) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "mid", "factory": "identity"},
      {"id": "in", "factory": "funnel"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "mid"}, {"from": "mid", "to": "in"}, {"from": "in", "to": "sink"}],
    "slots": {
      "a": {"element": "mid"},
      "b": {"element": "in", "kind": "fan-out"},
      "c": {"element": "nowhere"}
    }})");
  expect_problem(result, "'mid' (identity) has no request pads", "$.slots.a.element");
  expect_problem(result, "'in' (funnel) has no request src pads, so it cannot be a fan-out slot",
                 "$.slots.b.kind");
  expect_problem(result, "slot 'c' names missing id 'nowhere'", "$.slots.c.element");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(substitution)

const char *kParams = R"({"name": "t", "summary": "s",
  "params": {
    "count": {"type": "int", "default": 5, "min": 1, "max": 100, "doc": "buffers"},
    "pattern": {"type": "enum", "values": ["ball", "snow", "18"], "default": "ball", "doc": "p"},
    "live": {"type": "bool", "default": false, "doc": "live"},
    "width": {"type": "int", "default": 320, "doc": "w"},
    "rate": {"type": "string", "default": "15/1", "doc": "fps"},
    "name": {"type": "string", "doc": "optional, no default"},
    "ratio": {"type": "double", "default": 0.25, "doc": "r"}
  },
  "elements": [
    {"id": "src", "factory": "videotestsrc",
     "properties": {"num-buffers": "${count}", "pattern": "${pattern}", "is-live": "${live}"}},
    {"id": "crop", "factory": "aspectratiocrop", "properties": {"aspect-ratio": "${rate}"}},
    {"id": "beauty", "factory": "lpbeauty", "properties": {"smoothing": "${ratio}",
      "whitening": "0.5"}},
    {"id": "sink", "factory": "fakesink", "properties": {"name-unused": "${name}"}}
  ],
  "links": [
    {"from": "src", "to": "crop", "caps": "video/x-raw,format=I420,width=${width},height=240,framerate=${rate}"},
    {"from": "crop", "to": "beauty"},
    {"from": "beauty", "to": "sink"}
  ]})";

BOOST_AUTO_TEST_CASE(typed_values_reach_the_properties) {
  // "name-unused" does not exist: an unset optional param leaves a property
  // out entirely, so it is never even looked up.
  auto result = load_text(kParams);
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(property<int>(result, "src", "num-buffers") == 5);
  BOOST_TEST(property<gboolean>(result, "src", "is-live") == FALSE);
  BOOST_TEST(property<double>(result, "beauty", "smoothing") == 0.25);
  BOOST_TEST(property<double>(result, "beauty", "whitening") == 0.5);
  GValue ratio = G_VALUE_INIT;
  g_value_init(&ratio, GST_TYPE_FRACTION);
  g_object_get_property(G_OBJECT(result.pipeline->find("crop")), "aspect-ratio", &ratio);
  BOOST_TEST(gst_value_get_fraction_numerator(&ratio) == 15);
  g_value_unset(&ratio);
  // The caps filter of the first link got ${width} and ${rate}.
  GstElement *filter = result.pipeline->find("src->crop");
  BOOST_REQUIRE(filter);
  GstCaps *caps = nullptr;
  g_object_get(filter, "caps", &caps, nullptr);
  MiniPtr<GstCaps> owned(caps);
  int width = 0;
  gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &width);
  BOOST_TEST(width == 320);
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
}

BOOST_AUTO_TEST_CASE(given_text_is_converted_to_each_params_type) {
  auto result = load_text(kParams, LoadOptions{.params = {{"count", "7"},
                                                          {"pattern", "snow"},
                                                          {"live", "yes"},
                                                          {"width", "640"},
                                                          {"ratio", "1"}}});
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(property<int>(result, "src", "num-buffers") == 7);
  BOOST_TEST(property<gboolean>(result, "src", "is-live") == TRUE);
  BOOST_TEST(property<double>(result, "beauty", "smoothing") == 1.0);
  int pattern = 0;
  g_object_get(result.pipeline->find("src"), "pattern", &pattern, nullptr);
  BOOST_TEST(pattern == 1);  // "snow" by nick
  // An enum property also takes its numeric value.
  result = load_text(kParams, LoadOptions{.params = {{"pattern", "18"}}});
  BOOST_REQUIRE(result.ok());
  g_object_get(result.pipeline->find("src"), "pattern", &pattern, nullptr);
  BOOST_TEST(pattern == 18);  // "ball"
}

BOOST_AUTO_TEST_CASE(given_values_are_checked_against_their_params) {
  auto result = load_text(kParams, LoadOptions{.params = {{"count", "lots"},
                                                          {"pattern", "bal"},
                                                          {"live", "perhaps"},
                                                          {"width", "0"},
                                                          {"ratio", "x"}}});
  BOOST_TEST_INFO(all_problems(result));
  BOOST_TEST(find_problem(result, "param 'count': \"lots\" is not an integer"));
  BOOST_TEST(find_problem(result,
                          "param 'pattern': \"bal\" is not one of 'ball', 'snow', '18' "
                          "(closest: 'ball')"));
  BOOST_TEST(find_problem(result, "param 'live': \"perhaps\" is not a boolean"));
  BOOST_TEST(find_problem(result, "param 'ratio': \"x\" is not a number"));
  // width=0 is a valid int param but not a valid caps width? It is: caps
  // accept 0, so only the four above are problems.
  result = load_text(kParams, LoadOptions{.params = {{"count", "101"}}});
  BOOST_TEST(find_problem(result, "param 'count': 101 is out of range (1 to 100)"));
}

BOOST_AUTO_TEST_CASE(property_types_from_text) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"num-buffers": "2", "pattern": "ball",
        "is-live": "false"}},
      {"id": "caps", "factory": "capsfilter", "properties": {"caps": "video/x-raw,width=64,height=48"}},
      {"id": "enc", "factory": "x264enc", "properties": {"tune": "zerolatency+fastdecode",
        "bitrate": 300.0, "speed-preset": 1}},
      {"id": "rtx", "factory": "rtprtxsend", "properties": {"payload-type-map": "application/x-rtp-pt-map,96=(uint)97"}},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "caps"}, {"from": "caps", "to": "enc"}, {"from": "enc", "to": "sink"}],
    "slots": {}
  })");
  // rtprtxsend is unused on purpose: everything else converts.
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE_EQUAL(result.problems.size(), 1u);
  BOOST_TEST(result.problems.front().message.find("unused element 'rtx'") == 0u);
  result = load_text(R"({"name": "t", "summary": "s",
    "elements": [
      {"id": "enc", "factory": "x264enc", "properties": {"tune": "fastest", "bitrate": 2.5}},
      {"id": "caps", "factory": "capsfilter", "properties": {"caps": "video/x-raw,,"}},
      {"id": "crop", "factory": "aspectratiocrop", "properties": {"aspect-ratio": "wide"}},
      {"id": "sink", "factory": "fakesink", "properties": {"last-sample": "x"}}
    ],
    "links": [{"from": "caps", "to": "crop"}, {"from": "crop", "to": "enc"}, {"from": "enc", "to": "sink"}]})");
  BOOST_TEST_INFO(all_problems(result));
  expect_problem(result, "\"fastest\" is not a combination of", "$.elements[0].properties.tune");
  expect_problem(result, "2.5 is not an integer", "$.elements[0].properties.bitrate");
  expect_problem(result, "is not valid caps", "$.elements[1].properties.caps");
  expect_problem(result, "\"wide\" cannot be read as GstFraction",
                 "$.elements[2].properties.aspect-ratio");
  expect_problem(result, "is read-only", "$.elements[3].properties.last-sample");
}

BOOST_AUTO_TEST_CASE(escapes_and_interpolation) {
  auto result = load_text(R"({"name": "t", "summary": "s",
    "params": {"dir": {"type": "string", "default": "/tmp", "doc": "d"},
               "n": {"type": "int", "default": 4, "doc": "n"}},
    "elements": [
      {"id": "src", "factory": "fakesrc", "properties": {"num-buffers": "${n}"}},
      {"id": "sink", "factory": "filesink", "properties": {"location": "${dir}/$${n}-${n}.bin"}}
    ],
    "links": [{"from": "src", "to": "sink"}]})");
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  gchar *location = nullptr;
  g_object_get(result.pipeline->find("sink"), "location", &location, nullptr);
  BOOST_TEST(std::string(location) == "/tmp/${n}-4.bin");
  g_free(location);
  result = load_text(R"({"name": "t", "summary": "s",
    "params": {"opt": {"type": "string", "doc": "no default"}},
    "elements": [
      {"id": "src", "factory": "fakesrc"},
      {"id": "sink", "factory": "filesink", "properties": {"location": "a-${opt}"}}
    ],
    "links": [{"from": "src", "to": "sink", "caps": "x/${unterminated"}]})");
  expect_problem(result, "param 'opt' has no value", "$.elements[1].properties.location");
  expect_problem(result, "unterminated '${'", "$.links[0].caps");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(templates)

const char *kLibrary = R"({"name": "lib", "summary": "templates",
  "templates": {
    "encoder": {
      "summary": "raw video to H.264",
      "params": {"bitrate": {"type": "int", "default": 500, "min": 10, "doc": "kbit/s"}},
      "elements": [
        {"id": "x264", "factory": "x264enc", "properties": {"bitrate": "${bitrate}", "tune": "zerolatency"}},
        {"id": "parse", "factory": "h264parse"}
      ],
      "links": [{"from": "x264", "to": "parse"}],
      "inputs": {"sink": "x264"},
      "outputs": {"src": "parse"}
    },
    "convert-and-encode": {
      "summary": "any raw video to H.264",
      "params": {"rate": {"type": "int", "required": true, "doc": "kbit/s"}},
      "elements": [
        {"id": "convert", "factory": "videoconvert"},
        {"id": "enc", "template": "encoder", "params": {"bitrate": "${rate}"}}
      ],
      "links": [{"from": "convert", "to": "enc"}],
      "inputs": {"sink": "convert"},
      "outputs": {"main": "enc", "also": "enc"}
    },
    "loop": {
      "summary": "instantiates itself",
      "elements": [{"id": "again", "template": "loop"}],
      "inputs": {"sink": "again"}
    }
  }})";

BOOST_AUTO_TEST_CASE(included_templates_are_flattened_with_qualified_ids) {
  TempDir dir;
  dir.write("lib/codecs.json", kLibrary);
  auto file = dir.write("main.json", R"({"name": "main", "summary": "s",
    "include": ["lib/codecs.json"],
    "params": {"kbps": {"type": "int", "default": 800, "doc": "k"}},
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"num-buffers": 10}},
      {"id": "video", "template": "convert-and-encode", "params": {"rate": "${kbps}"}},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "video"}, {"from": "video.main", "to": "sink"}]})");
  pipelines::Loader loader;
  auto result = loader.load_file(file);
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(property<guint>(result, "video/enc/x264", "bitrate") == 800u);
  BOOST_TEST(result.pipeline->find("video/convert"));
  BOOST_TEST(pipelines::describe_object(GST_OBJECT(result.pipeline->find("video/enc/parse"))) ==
             "video/enc/parse");
  BOOST_TEST(run_to_end(result.pipeline->element()) == "");
}

BOOST_AUTO_TEST_CASE(a_param_chooses_the_template) {
  TempDir dir;
  dir.write("lib/codecs.json", kLibrary);
  auto file = dir.write("main.json", R"({"name": "main", "summary": "s",
    "include": ["lib/codecs.json"],
    "params": {"block": {"type": "string", "default": "encoder", "doc": "which"}},
    "elements": [
      {"id": "src", "factory": "videotestsrc", "properties": {"num-buffers": 10}},
      {"id": "video", "template": "${block}", "params": {"bitrate": 900}},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "video"}, {"from": "video", "to": "sink"}]})");
  pipelines::Loader loader;
  auto result = loader.load_file(file);
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(property<guint>(result, "video/x264", "bitrate") == 900u);
  // The substituted name is checked like a written one.
  auto wrong = loader.load_file(file, {.params = {{"block", "encodr"}}, .build = false});
  expect_problem(wrong, "unknown template 'encodr' (closest: 'encoder')", "$.elements[1].template");
}

BOOST_AUTO_TEST_CASE(template_problems_point_into_the_template_file) {
  TempDir dir;
  dir.write("lib.json", kLibrary);
  auto file = dir.write("main.json", R"({"name": "main", "summary": "s",
    "include": ["lib.json"],
    "elements": [
      {"id": "src", "factory": "videotestsrc"},
      {"id": "a", "template": "encoder", "params": {"bitrate": 5, "colour": 1}},
      {"id": "b", "template": "convert-and-encode"},
      {"id": "c", "template": "encodr"},
      {"id": "d", "template": "loop"},
      {"id": "sink", "factory": "fakesink"}
    ],
    "links": [{"from": "src", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "sink"},
              {"from": "a.nope", "to": "c"}]})");
  pipelines::Loader loader;
  auto result = loader.load_file(file);
  BOOST_TEST_INFO(all_problems(result));
  expect_problem(result, "param 'bitrate': 5 is out of range (at least 10)",
                 "$.elements[1].params.bitrate");
  expect_problem(result, "unknown param 'colour' for 'encoder'", "$.elements[1].params.colour");
  expect_problem(result, "missing required param 'rate' for 'convert-and-encode'", "$.elements[2]");
  expect_problem(result, "unknown template 'encodr' (closest: 'encoder')",
                 "$.elements[3].template");
  expect_problem(result, "template 'loop' instantiates itself",
                 "$.templates.loop.elements[0].template");
  BOOST_TEST(find_problem(result, "instantiates itself")->file ==
             (dir.path() / "lib.json").string());
  expect_problem(result, "template instance 'b' has several outputs ('main', 'also')",
                 "$.links[2].from");
  expect_problem(result, "template instance 'a' has no output 'nope'", "$.links[3].from");
}

BOOST_AUTO_TEST_CASE(include_cycles_and_missing_files) {
  TempDir dir;
  dir.write("a.json", R"({"name": "a", "summary": "s", "include": ["b.json"],
    "templates": {"ta": {"summary": "s", "elements": [{"id": "i", "factory": "identity"}],
                         "inputs": {"sink": "i"}, "outputs": {"src": "i"}}}})");
  dir.write("b.json", R"({"name": "b", "summary": "s", "include": ["a.json", "gone.json"],
    "templates": {"ta": {"summary": "s", "elements": [{"id": "i", "factory": "identity"}],
                         "inputs": {"sink": "i"}}}})");
  auto file = dir.write("main.json", R"({"name": "main", "summary": "s", "include": ["a.json"],
    "elements": [{"id": "src", "factory": "fakesrc"}]})");
  pipelines::Loader loader;
  auto result = loader.load_file(file);
  BOOST_TEST_INFO(all_problems(result));
  expect_problem(result, "include cycle: main.json -> a.json -> b.json -> a.json", "$.include[0]");
  expect_problem(result, "cannot find include 'gone.json'", "$.include[1]");
  expect_problem(result, "template 'ta' is also defined in", "$.templates.ta");
}

BOOST_AUTO_TEST_CASE(a_branch_description_builds_a_bin_with_ghost_pads) {
  auto result = load_text(R"({"name": "branch", "summary": "s",
    "elements": [{"id": "q", "factory": "queue"}, {"id": "sink", "factory": "fakesink"}],
    "links": [{"from": "q", "to": "sink"}],
    "inputs": {"sink": "q"}})");
  BOOST_TEST_INFO(all_problems(result));
  BOOST_REQUIRE(result.ok());
  BOOST_TEST(result.pipeline->is_branch());
  GstPtr<GstPad> pad(gst_element_get_static_pad(result.pipeline->element(), "sink"));
  BOOST_TEST(GST_IS_GHOST_PAD(pad.get()));
  result = load_text(R"({"name": "branch", "summary": "s",
    "elements": [{"id": "d", "factory": "decodebin"}, {"id": "sink", "factory": "fakesink"}],
    "links": [{"from": "d", "to": "sink"}],
    "inputs": {"sink": "d.src_%u"}})");
  expect_problem(result, "'d' (decodebin) has no sink pad 'src_%u' ('src_%u' is a src pad)",
                 "$.inputs.sink");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schema)

// The JSON Schema and the loader accept the same members.
BOOST_AUTO_TEST_CASE(the_schema_lists_the_members_the_loader_accepts) {
  pipelines::Problems problems;
  auto doc =
      pipelines::read_document(source_dir() / "pipelines" / "description.schema.json", problems);
  BOOST_REQUIRE(doc);
  const pipelines::JsonValue *root = doc->root.get();
  const pipelines::JsonValue *defs = root->find("$defs");
  BOOST_REQUIRE(defs);
  auto members = [&](const pipelines::JsonValue *object) {
    std::vector<std::string> names;
    BOOST_REQUIRE(object && object->find("properties"));
    for (const auto &[name, value] : object->find("properties")->members()) {
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  auto known = [](pipelines::ObjectKind kind) {
    auto names = pipelines::known_members(kind);
    std::sort(names.begin(), names.end());
    return names;
  };
  using pipelines::ObjectKind;
  BOOST_TEST(members(root) == known(ObjectKind::kDescription), boost::test_tools::per_element());
  BOOST_TEST(members(defs->find("param")) == known(ObjectKind::kParam),
             boost::test_tools::per_element());
  BOOST_TEST(members(defs->find("element")) == known(ObjectKind::kElement),
             boost::test_tools::per_element());
  BOOST_TEST(members(defs->find("link")) == known(ObjectKind::kLink),
             boost::test_tools::per_element());
  BOOST_TEST(members(defs->find("slot")) == known(ObjectKind::kSlot),
             boost::test_tools::per_element());
  BOOST_TEST(members(defs->find("template")) == known(ObjectKind::kTemplate),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
