#include "log.h"

#include "util/json.h"

#include <glib.h>

namespace livepipe::signaling {
namespace {

const char *level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool needs_quotes(const std::string &value) {
  if (value.empty()) {
    return true;
  }
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

}  // namespace

void Logger::log(LogLevel level, const char *event, Fields fields) {
  if (level < min_) {
    return;
  }
  GDateTime *now = g_date_time_new_now_utc();
  gchar *stamp = g_date_time_format_iso8601(now);
  g_date_time_unref(now);
  std::string line;
  if (json_) {
    json::ObjectBuilder builder;
    builder.set("time", stamp).set("level", level_name(level)).set("event", event);
    for (const auto &[key, value] : fields) {
      builder.set(key, value);
    }
    line = builder.to_string();
  } else {
    line = std::string(stamp) + " " + level_name(level) + " " + event;
    for (const auto &[key, value] : fields) {
      line += std::string(" ") + key + "=";
      if (needs_quotes(value)) {
        gchar *escaped = g_strescape(value.c_str(), nullptr);
        line += std::string("\"") + escaped + "\"";
        g_free(escaped);
      } else {
        line += value;
      }
    }
  }
  g_free(stamp);
  line += '\n';
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

}  // namespace livepipe::signaling
