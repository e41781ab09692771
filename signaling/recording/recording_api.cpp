#include "recording_api.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace livepipe::signaling::recording {
namespace {

constexpr double kMaxSeconds = 1e7;  // 115 days: more than any recording

// Seconds in a JSON member as ns; nullopt when absent, an error when not a
// number in [0, kMaxSeconds].
std::variant<std::optional<int64_t>, std::string> seconds_member(JsonObject *object,
                                                                 const char *member) {
  if (!json_object_has_member(object, member)) {
    return std::optional<int64_t>{};
  }
  JsonNode *node = json_object_get_member(object, member);
  if (!JSON_NODE_HOLDS_VALUE(node) || (json_node_get_value_type(node) != G_TYPE_INT64 &&
                                       json_node_get_value_type(node) != G_TYPE_DOUBLE)) {
    return std::string(member) + " must be a number of seconds";
  }
  double value = json_node_get_value_type(node) == G_TYPE_INT64
                     ? static_cast<double>(json_node_get_int(node))
                     : json_node_get_double(node);
  if (!std::isfinite(value) || value < 0 || value > kMaxSeconds) {
    return std::string(member) + " must be between 0 and 10000000 seconds";
  }
  return std::optional<int64_t>{static_cast<int64_t>(std::llround(value * 1e9))};
}

std::variant<JsonObject *, std::string> body_object(std::string_view body, json::NodePtr *root) {
  if (body.size() > 64 * 1024) {
    return std::string("the request body is larger than 64 KiB");
  }
  json::ParseError error;
  *root = json::parse(body, &error);
  if (!*root) {
    return "the body is not JSON: " + error.message;
  }
  if (!JSON_NODE_HOLDS_OBJECT(root->get())) {
    return std::string("the body must be a JSON object");
  }
  return json_node_get_object(root->get());
}

}  // namespace

std::optional<int64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 18 || text[0] == '0') {
    return std::nullopt;
  }
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int64_t> parse_time(std::string_view text) {
  if (text.empty() || text.size() > 64) {
    return std::nullopt;
  }
  std::string copy(text);
  char *end = nullptr;
  double seconds = std::strtod(copy.c_str(), &end);
  if (end && *end == '\0' && copy.find_first_not_of("0123456789.") == std::string::npos) {
    if (!std::isfinite(seconds) || seconds > 1e11) {
      return std::nullopt;
    }
    return static_cast<int64_t>(seconds * 1000);
  }
  GDateTime *time = g_date_time_new_from_iso8601(copy.c_str(), nullptr);
  if (!time) {
    return std::nullopt;
  }
  int64_t ms = g_date_time_to_unix(time) * 1000 + g_date_time_get_microsecond(time) / 1000;
  g_date_time_unref(time);
  return ms;
}

std::variant<RecordingFilter, std::string> parse_recording_filter(
    const std::map<std::string, std::string> &query) {
  RecordingFilter filter;
  for (const auto &[name, value] : query) {
    if (name == "stream") {
      filter.stream = value;
    } else if (name == "state") {
      if (value != "recording" && value != "finished" && value != "interrupted" &&
          value != "failed") {
        return "state must be recording, finished, interrupted or failed";
      }
      filter.state = value;
    } else if (name == "from" || name == "to") {
      auto ms = parse_time(value);
      if (!ms) {
        return name + " must be an RFC 3339 time (2026-11-24T05:00:00Z) or Unix seconds";
      }
      (name == "from" ? filter.from_ms : filter.to_ms) = *ms;
    } else if (name == "limit" || name == "offset") {
      auto n = value == "0" ? std::optional<int64_t>(0) : parse_id(value);
      if (!n || (name == "limit" && (*n < 1 || *n > 1000)) || *n > 1000000000) {
        return name == "limit" ? std::string("limit must be an integer from 1 to 1000")
                               : std::string("offset must be a non-negative integer");
      }
      (name == "limit" ? filter.limit : filter.offset) = *n;
    } else if (name != "token") {
      return "unknown parameter " + name + " (stream, state, from, to, limit, offset)";
    }
  }
  if (filter.from_ms >= 0 && filter.to_ms >= 0 && filter.from_ms > filter.to_ms) {
    return std::string("from is after to");
  }
  return filter;
}

bool valid_stream_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::variant<JobRequest, std::string> parse_job_request(std::string_view body) {
  json::NodePtr root;
  auto object = body_object(body, &root);
  if (auto *why = std::get_if<std::string>(&object)) {
    return *why;
  }
  JsonObject *o = std::get<JsonObject *>(object);
  GList *members = json_object_get_members(o);
  std::string unknown;
  for (GList *l = members; l; l = l->next) {
    std::string name = static_cast<const char *>(l->data);
    if (name != "type" && name != "recording" && name != "start" && name != "end" &&
        name != "accurate" && name != "stream" && unknown.empty()) {
      unknown = name;
    }
  }
  g_list_free(members);
  if (!unknown.empty()) {
    return "unknown member " + unknown + " (type, recording, start, end, accurate, stream)";
  }
  JobRequest request;
  auto type = json::get_string(o, "type");
  if (!type || (*type != "clip" && *type != "vod" && *type != "rebroadcast")) {
    return std::string("type must be \"clip\", \"vod\" or \"rebroadcast\"");
  }
  request.type = *type;
  auto recording = json::get_int(o, "recording");
  if (!recording || *recording <= 0) {
    return std::string("recording must be the id of a recording (a positive integer)");
  }
  request.recording = *recording;
  auto start = seconds_member(o, "start");
  if (auto *why = std::get_if<std::string>(&start)) {
    return *why;
  }
  auto end = seconds_member(o, "end");
  if (auto *why = std::get_if<std::string>(&end)) {
    return *why;
  }
  request.start_ns = std::get<std::optional<int64_t>>(start).value_or(0);
  request.end_ns = std::get<std::optional<int64_t>>(end).value_or(-1);
  if (json_object_has_member(o, "accurate")) {
    auto accurate = json::get_bool(o, "accurate");
    if (!accurate) {
      return std::string("accurate must be true or false");
    }
    request.accurate = *accurate;
  }
  if (request.type == "vod" && (json_object_has_member(o, "start") ||
                                json_object_has_member(o, "end") || request.accurate)) {
    return std::string("a vod job takes the whole recording: no start, end or accurate");
  }
  if (request.type == "rebroadcast") {
    if (request.accurate) {
      return std::string("a rebroadcast starts on a keyframe: accurate is for clips");
    }
    auto stream = json::get_string(o, "stream");
    if (!stream || !valid_stream_name(*stream)) {
      return std::string(
          "a rebroadcast needs stream: the name of the live stream to create (1 to 64 letters, "
          "digits, '-', '_' or '.')");
    }
    request.stream = *stream;
  } else if (json_object_has_member(o, "stream")) {
    return "stream is for rebroadcast jobs; a " + request.type + " job takes the recording's";
  }
  if (request.end_ns >= 0 && request.end_ns <= request.start_ns) {
    return std::string("end must be after start");
  }
  return request;
}

std::variant<double, std::string> parse_instant_replay(std::string_view body, int64_t max_seconds) {
  json::NodePtr root;
  auto object = body_object(body, &root);
  if (auto *why = std::get_if<std::string>(&object)) {
    return *why;
  }
  JsonObject *o = std::get<JsonObject *>(object);
  if (json_object_get_size(o) != 1 || !json_object_has_member(o, "seconds")) {
    return std::string("the body must be {\"seconds\": N}");
  }
  auto ns = seconds_member(o, "seconds");
  if (auto *why = std::get_if<std::string>(&ns)) {
    return *why;
  }
  double seconds = static_cast<double>(*std::get<std::optional<int64_t>>(ns)) / 1e9;
  if (seconds <= 0 || seconds > static_cast<double>(max_seconds)) {
    return "seconds must be more than 0 and at most " + std::to_string(max_seconds);
  }
  return seconds;
}

std::string format_time(int64_t unix_ms) {
  GDateTime *time = g_date_time_new_from_unix_utc(unix_ms / 1000);
  if (!time) {
    return {};
  }
  char *text = g_date_time_format(time, "%Y-%m-%dT%H:%M:%S");
  g_date_time_unref(time);
  char ms[8];
  g_snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(unix_ms % 1000));
  std::string out = std::string(text) + ms;
  g_free(text);
  return out;
}

json::NodePtr recording_json(const RecordingRow &r, bool with_segments) {
  json::ObjectBuilder b;
  b.set("id", r.id)
      .set("stream", r.stream)
      .set("state", r.state)
      .set("startedAt", format_time(r.started_ms))
      .set("duration", static_cast<double>(r.duration_ns) / 1e9)
      .set("size", static_cast<int64_t>(r.size))
      .set("segmentCount", r.segment_count)
      .set("directory", r.directory);
  if (r.ended_ms) {
    b.set("endedAt", format_time(r.ended_ms));
  } else {
    b.set_null("endedAt");
  }
  if (!r.error.empty()) {
    b.set("error", r.error);
  }
  if (with_segments) {
    json::NodePtr list(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    for (const auto &s : r.segments) {
      json_array_add_element(array, json::ObjectBuilder()
                                        .set("index", static_cast<int64_t>(s.index))
                                        .set("path", s.path)
                                        .set("start", static_cast<double>(s.start_ns) / 1e9)
                                        .set("duration", static_cast<double>(s.duration_ns) / 1e9)
                                        .set("size", static_cast<int64_t>(s.size))
                                        .set("wallclock", s.wallclock)
                                        .set("discont", s.discont)
                                        .set("complete", s.complete)
                                        .build()
                                        .release());
    }
    json_node_take_array(list.get(), array);
    b.set("segments", std::move(list));
  }
  return b.build();
}

json::NodePtr job_json(const JobRow &j, std::optional<double> live_progress) {
  json::ObjectBuilder b;
  b.set("id", j.id)
      .set("type", j.type)
      .set("recording", j.recording_id)
      .set("stream", j.stream)
      .set("state", j.state)
      .set("progress", live_progress.value_or(j.progress))
      .set("instant", j.instant)
      .set("createdAt", format_time(j.created_ms));
  if (j.type == "rebroadcast") {
    // The live stream it plays to is kept in `output`.
    b.set("target", j.output).set("whep", "/whep/" + j.output);
  }
  if (j.type == "clip" || j.type == "rebroadcast") {
    b.set("start", static_cast<double>(j.start_ns) / 1e9);
    if (j.type == "clip") {
      b.set("accurate", j.accurate);
    }
    if (j.end_ns >= 0) {
      b.set("end", static_cast<double>(j.end_ns) / 1e9);
    } else {
      b.set_null("end");
    }
  }
  if (j.started_ms) {
    b.set("startedAt", format_time(j.started_ms));
  }
  if (j.finished_ms) {
    b.set("finishedAt", format_time(j.finished_ms));
  }
  if (!j.error.empty()) {
    b.set("error", j.error);
  }
  if (j.state == "done" && j.type != "rebroadcast") {
    std::string base = "/api/v1/jobs/" + std::to_string(j.id);
    json::ObjectBuilder output;
    output.set("path", j.output)
        .set("url", base + (j.type == "clip" ? "/output" : "/files/index.m3u8"));
    b.set("output", output.build());
  }
  if (j.state == "done") {
    json::ParseError error;
    if (json::NodePtr result = json::parse(j.result, &error);
        result && JSON_NODE_HOLDS_OBJECT(result.get())) {
      b.set("result", std::move(result));
    }
  }
  return b.build();
}

}  // namespace livepipe::signaling::recording
