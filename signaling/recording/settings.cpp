#include "settings.h"

#include "util/json.h"

#include <glib.h>

#include <set>

namespace livepipe::signaling {

bool RecordingSettings::records_from_start(const std::string &stream) const {
  for (const auto &pattern : streams) {
    if (g_pattern_match_simple(pattern.c_str(), stream.c_str())) {
      return true;
    }
  }
  return false;
}

void read_recording_settings(JsonObject *object, const std::string &path,
                             RecordingSettings *settings, std::vector<std::string> *problems) {
  auto problem = [&](const std::string &member, const std::string &what) {
    problems->push_back(path + (member.empty() ? "" : "." + member) + ": " + what);
  };
  static const std::set<std::string> known = {
      "dir",    "streams",           "segmentSeconds",         "fragmentMs",
      "format", "maxConcurrentJobs", "maxInstantReplaySeconds"};
  GList *members = json_object_get_members(object);
  for (GList *l = members; l; l = l->next) {
    if (!known.count(static_cast<const char *>(l->data))) {
      problem(static_cast<const char *>(l->data), "unknown setting");
    }
  }
  g_list_free(members);
  auto integer = [&](const char *member, int64_t *out, int64_t min, int64_t max) {
    if (!json_object_has_member(object, member)) {
      return;
    }
    auto value = json::get_int(object, member);
    if (!value || *value < min || *value > max) {
      problem(member,
              "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return;
    }
    *out = *value;
  };
  if (json_object_has_member(object, "dir")) {
    auto dir = json::get_string(object, "dir");
    if (!dir || dir->empty()) {
      problem("dir", "must be a non-empty string (a directory)");
    } else {
      settings->dir = *dir;
    }
  }
  if (json_object_has_member(object, "format")) {
    auto format = json::get_string(object, "format");
    if (!format || (*format != "mp4" && *format != "mkv")) {
      problem("format", "must be \"mp4\" or \"mkv\"");
    } else {
      settings->format = *format;
    }
  }
  if (json_object_has_member(object, "streams")) {
    JsonArray *array = json::get_array(object, "streams");
    if (!array) {
      problem("streams", "must be an array of stream name patterns");
    } else {
      for (guint i = 0; i < json_array_get_length(array); ++i) {
        JsonNode *item = json_array_get_element(array, i);
        if (!JSON_NODE_HOLDS_VALUE(item) || json_node_get_value_type(item) != G_TYPE_STRING ||
            !*json_node_get_string(item)) {
          problem("streams[" + std::to_string(i) + "]", "must be a non-empty string");
          continue;
        }
        settings->streams.emplace_back(json_node_get_string(item));
      }
    }
  }
  integer("segmentSeconds", &settings->segment_seconds, 1, 24 * 3600);
  integer("fragmentMs", &settings->fragment_ms, 100, 1000);
  integer("maxConcurrentJobs", &settings->max_concurrent_jobs, 1, 64);
  integer("maxInstantReplaySeconds", &settings->max_instant_replay_seconds, 1, 24 * 3600);
  if (settings->dir.empty() && !settings->streams.empty()) {
    problem("streams", "needs recording.dir (where recordings are kept)");
  }
}

}  // namespace livepipe::signaling
