#include "manifest.h"

#include "safepath.h"
#include "util/json.h"

#include <glib.h>

namespace livepipe::record {

uint64_t Manifest::duration_ns() const {
  uint64_t end = 0;
  for (const auto &s : segments) {
    end = std::max(end, s.start_ns + s.duration_ns);
  }
  return end;
}

std::string manifest_to_json(const Manifest &manifest) {
  JsonArray *array = json_array_new();
  for (const auto &s : manifest.segments) {
    json::ObjectBuilder entry;
    entry.set("index", static_cast<int64_t>(s.index))
        .set("path", s.path)
        .set("start_ns", static_cast<int64_t>(s.start_ns))
        .set("duration_ns", static_cast<int64_t>(s.duration_ns))
        .set("size", static_cast<int64_t>(s.size))
        .set("wallclock", s.wallclock)
        .set("discont", s.discont)
        .set("complete", s.complete);
    json_array_add_element(array, entry.build().release());
  }
  json::NodePtr segments(json_node_new(JSON_NODE_ARRAY));
  json_node_take_array(segments.get(), array);
  json::ObjectBuilder root;
  root.set("version", 1)
      .set("format", manifest.format)
      .set("stream", manifest.stream)
      .set("state", manifest.state)
      .set("created", manifest.created)
      .set("duration_ns", static_cast<int64_t>(manifest.duration_ns()))
      .set("segments", std::move(segments));
  return root.to_string(true) + "\n";
}

namespace {

// json-glib decodes a lone UTF-16 surrogate escape ("\udc00") into bytes
// that are not UTF-8; such a string could not be written back as JSON.
bool is_utf8(const std::string &text) {
  return g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr);
}

std::string printable(const std::string &text) {
  gchar *valid = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
  std::string out = valid;
  g_free(valid);
  return out;
}

}  // namespace

std::optional<Manifest> manifest_from_json(std::string_view text, std::string *error) {
  auto fail = [&](std::string message) -> std::optional<Manifest> {
    if (error) {
      *error = "manifest: " + message;
    }
    return std::nullopt;
  };
  json::ParseError parse_error;
  json::NodePtr root = json::parse(text, &parse_error);
  if (!root) {
    return fail(printable(parse_error.message) + " at line " + std::to_string(parse_error.line));
  }
  if (!JSON_NODE_HOLDS_OBJECT(root.get())) {
    return fail("the document is not a JSON object");
  }
  JsonObject *object = json_node_get_object(root.get());
  if (json::get_int(object, "version").value_or(0) != 1) {
    return fail("$.version must be 1");
  }
  Manifest manifest;
  manifest.format = json::get_string(object, "format").value_or("");
  if (manifest.format != "mp4" && manifest.format != "mkv") {
    return fail("$.format must be \"mp4\" or \"mkv\"");
  }
  manifest.stream = json::get_string(object, "stream").value_or("");
  manifest.state = json::get_string(object, "state").value_or("recording");
  manifest.created = json::get_string(object, "created").value_or("");
  for (const auto &[name, value] :
       {std::pair<const char *, const std::string &>{"stream", manifest.stream},
        {"state", manifest.state},
        {"created", manifest.created}}) {
    if (!is_utf8(value)) {
      return fail(std::string("$.") + name + " is not valid UTF-8 text");
    }
  }
  JsonArray *segments = json::get_array(object, "segments");
  if (!segments) {
    return fail("$.segments must be an array");
  }
  guint count = json_array_get_length(segments);
  for (guint i = 0; i < count; ++i) {
    std::string where = "$.segments[" + std::to_string(i) + "]";
    JsonNode *node = json_array_get_element(segments, i);
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
      return fail(where + " must be an object");
    }
    JsonObject *s = json_node_get_object(node);
    SegmentEntry entry;
    auto path = json::get_string(s, "path");
    auto start = json::get_int(s, "start_ns");
    auto duration = json::get_int(s, "duration_ns");
    if (!path || !start || !duration || *start < 0 || *duration < 0) {
      return fail(where + " needs a path and non-negative start_ns and duration_ns");
    }
    entry.wallclock = json::get_string(s, "wallclock").value_or("");
    if (!is_utf8(*path) || !is_utf8(entry.wallclock)) {
      return fail(where + (is_utf8(*path) ? ".wallclock" : ".path") + " is not valid UTF-8 text");
    }
    std::string why;
    if (!validate_relative_path(*path, &why)) {
      return fail(where + ".path: " + why);
    }
    entry.path = *path;
    entry.start_ns = static_cast<uint64_t>(*start);
    entry.duration_ns = static_cast<uint64_t>(*duration);
    entry.index =
        static_cast<uint64_t>(std::max<int64_t>(0, json::get_int(s, "index").value_or(i)));
    entry.size = static_cast<uint64_t>(std::max<int64_t>(0, json::get_int(s, "size").value_or(0)));
    entry.discont = json::get_bool(s, "discont").value_or(false);
    entry.complete = json::get_bool(s, "complete").value_or(false);
    manifest.segments.push_back(std::move(entry));
  }
  return manifest;
}

std::string utc_now() {
  GDateTime *now = g_date_time_new_now_utc();
  gchar *text = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
  std::string out = text ? text : "";
  g_free(text);
  g_date_time_unref(now);
  // %f gives microseconds; keep milliseconds.
  size_t dot = out.find('.');
  if (dot != std::string::npos && out.size() > dot + 4) {
    out = out.substr(0, dot + 4) + "Z";
  }
  return out;
}

}  // namespace livepipe::record
