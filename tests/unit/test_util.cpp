// The shared utilities: RAII owners, main-context marshalling, JSON helpers.
#define BOOST_TEST_MODULE util
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"

#include "util/gstptr.h"
#include "util/json.h"
#include "util/maincontext.h"

#include <atomic>
#include <thread>
#include <vector>

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

using namespace livepipe;

BOOST_AUTO_TEST_CASE(sink_and_ref_own_exactly_one_reference) {
  GstElement *raw = gst_element_factory_make("fakesink", nullptr);
  BOOST_REQUIRE(raw);
  BOOST_TEST(g_object_is_floating(raw));
  {
    GstPtr<GstElement> owner = sink(raw);
    BOOST_TEST(!g_object_is_floating(raw));
    BOOST_TEST(GST_OBJECT_REFCOUNT_VALUE(raw) == 1);
    GstPtr<GstElement> second = ref(raw);
    BOOST_TEST(GST_OBJECT_REFCOUNT_VALUE(raw) == 2);
    g_object_add_weak_pointer(G_OBJECT(raw), reinterpret_cast<gpointer *>(&raw));
  }
  BOOST_TEST(raw == nullptr);  // the last owner freed it
}

BOOST_AUTO_TEST_CASE(mini_object_owner_unrefs) {
  MiniPtr<GstCaps> caps = adopt_mini(gst_caps_from_string("video/x-raw"));
  MiniPtr<GstCaps> again = ref_mini(caps.get());
  BOOST_TEST(GST_MINI_OBJECT_REFCOUNT_VALUE(caps.get()) == 2);
  again.reset();
  BOOST_TEST(GST_MINI_OBJECT_REFCOUNT_VALUE(caps.get()) == 1);
}

BOOST_AUTO_TEST_CASE(invoke_from_threads_runs_on_the_context_in_order) {
  GMainContext *context = g_main_context_new();
  std::vector<int> order;
  std::atomic<int> queued{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      invoke_on(context, [&order, i] { order.push_back(i); });
      ++queued;
    }
  });
  producer.join();
  BOOST_TEST(order.empty());  // nothing runs until the owner iterates
  for (int spins = 0; spins < 1000 && order.size() < 100; ++spins) {
    g_main_context_iteration(context, FALSE);
  }
  BOOST_REQUIRE_EQUAL(order.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(order[i] == i);
  }
  g_main_context_unref(context);
}

BOOST_AUTO_TEST_CASE(post_defers_and_timeout_stops_when_guard_dies) {
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  bool ran = false;
  post_to(context, [&] { ran = true; });
  BOOST_TEST(!ran);
  g_main_context_iteration(context, FALSE);
  BOOST_TEST(ran);

  int ticks = 0;
  {
    SourceGuard timer = add_timeout(context, 1, [&] {
      ++ticks;
      return true;
    });
    for (int spins = 0; spins < 10000 && ticks < 3; ++spins) {
      g_main_context_iteration(context, TRUE);
    }
  }
  const int seen = ticks;
  BOOST_TEST(seen >= 3);
  for (int spins = 0; spins < 5; ++spins) {
    g_usleep(2000);
    g_main_context_iteration(context, FALSE);
  }
  BOOST_TEST(ticks == seen);  // destroyed with its guard
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
}

BOOST_AUTO_TEST_CASE(json_parse_reports_position) {
  json::ParseError error;
  BOOST_TEST(!json::parse("{\n  \"a\": 1,\n  \"b\": ]\n}", &error));
  BOOST_TEST(!error.message.empty());
  BOOST_TEST(error.line == 3);
  BOOST_TEST(error.column == 8);
  BOOST_TEST(error.message.find("<data>") == std::string::npos);
  BOOST_TEST(!json::parse("", &error));
  BOOST_TEST(!error.message.empty());
}

// Escapes that decode to bytes outside UTF-8 ("\377" is read as octal) and
// raw invalid bytes are refused, in values, member names and nested arrays, so
// no caller holds a string it cannot serialise again.
BOOST_AUTO_TEST_CASE(json_parse_refuses_strings_that_are_not_utf8) {
  json::ParseError error;
  BOOST_TEST(!json::parse(R"({"type":"join","room":"\377"})", &error));
  BOOST_TEST(error.message == "$.room is not valid UTF-8");
  BOOST_TEST(!json::parse(R"({"a":[1,{"\377":2}]})", &error));
  BOOST_TEST(error.message == "a member name in $.a[1] is not valid UTF-8");
  BOOST_TEST(!json::parse("[\"ok\", \"\xff\"]", &error));
  BOOST_TEST(!error.message.empty());
  BOOST_TEST(!json::parse(R"({"a":{"b":["x","\udc00x"]}})", &error));
  BOOST_TEST(error.message == "$.a.b[1] is not valid UTF-8");
  BOOST_TEST(json::parse(R"({"name":"caf\u00e9 \u2603","a":["x",null,1]})", &error));
}

BOOST_AUTO_TEST_CASE(json_typed_access_tells_missing_from_wrong_type) {
  json::ParseError error;
  json::NodePtr root =
      json::parse(R"({"s":"x","i":42,"d":1.5,"b":true,"o":{"k":1},"a":[1]})", &error);
  BOOST_REQUIRE(root);
  JsonObject *o = json_node_get_object(root.get());
  BOOST_TEST(*json::get_string(o, "s") == "x");
  BOOST_TEST(*json::get_int(o, "i") == 42);
  BOOST_TEST(*json::get_double(o, "d") == 1.5);
  BOOST_TEST(*json::get_double(o, "i") == 42.0);
  BOOST_TEST(*json::get_bool(o, "b"));
  BOOST_TEST(json::get_object(o, "o") != nullptr);
  BOOST_TEST(json::get_array(o, "a") != nullptr);
  BOOST_TEST(!json::get_string(o, "i"));
  BOOST_TEST(!json::get_int(o, "s"));
  BOOST_TEST(!json::get_bool(o, "missing"));
  BOOST_TEST(json::get_object(o, "a") == nullptr);
  BOOST_TEST(std::string(json::type_name(json_object_get_member(o, "a"))) == "array");
  BOOST_TEST(std::string(json::type_name(json_object_get_member(o, "i"))) == "integer");
}

BOOST_AUTO_TEST_CASE(json_builder_round_trips) {
  json::ObjectBuilder inner;
  inner.set("n", 3);
  json::ObjectBuilder builder;
  builder.set("name", "cam \"1\"").set("fps", 29.97).set("live", true).set_null("none");
  builder.set("inner", inner.build());
  const std::string text = builder.to_string();
  json::ParseError error;
  json::NodePtr back = json::parse(text, &error);
  BOOST_REQUIRE(back);
  JsonObject *o = json_node_get_object(back.get());
  BOOST_TEST(*json::get_string(o, "name") == "cam \"1\"");
  BOOST_TEST(*json::get_double(o, "fps") == 29.97);
  BOOST_TEST(*json::get_int(json::get_object(o, "inner"), "n") == 3);
}
