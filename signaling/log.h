// Structured log lines: an event name plus key/value fields. Text for people
// at a terminal, one JSON object per line for log collectors (--log-json).
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>

namespace livepipe::signaling {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  using Fields = std::initializer_list<std::pair<const char *, std::string>>;

  explicit Logger(bool json = false, FILE *out = stderr, LogLevel min = LogLevel::kInfo)
      : json_(json), out_(out), min_(min) {}

  void log(LogLevel level, const char *event, Fields fields = {});
  void debug(const char *event, Fields fields = {}) { log(LogLevel::kDebug, event, fields); }
  void info(const char *event, Fields fields = {}) { log(LogLevel::kInfo, event, fields); }
  void warn(const char *event, Fields fields = {}) { log(LogLevel::kWarn, event, fields); }
  void error(const char *event, Fields fields = {}) { log(LogLevel::kError, event, fields); }

 private:
  bool json_;
  FILE *out_;
  LogLevel min_;
};

}  // namespace livepipe::signaling
