// libFuzzer target for the recording API's request parsers: any input is
// either refused with a message or yields a request that keeps the
// invariants the service relies on.
#include "recording_api.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace livepipe::signaling::recording;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view text(reinterpret_cast<const char *>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = parse_job_request(text);
      if (auto *job = std::get_if<JobRequest>(&r)) {
        if ((job->type != "clip" && job->type != "vod") || job->recording <= 0 ||
            job->start_ns < 0 || (job->end_ns != -1 && job->end_ns <= job->start_ns)) {
          std::abort();
        }
      } else if (std::get<std::string>(r).empty()) {
        std::abort();
      }
      break;
    }
    case 1: {
      auto r = parse_instant_replay(text, 600);
      if (auto *seconds = std::get_if<double>(&r); seconds && !(*seconds > 0 && *seconds <= 600)) {
        std::abort();
      }
      break;
    }
    case 2: {
      // key=value&key=value, as a query string.
      std::map<std::string, std::string> query;
      size_t start = 0;
      while (start <= text.size() && query.size() < 16) {
        size_t end = text.find('&', start);
        std::string_view part =
            text.substr(start, end == std::string_view::npos ? end : end - start);
        size_t eq = part.find('=');
        query[std::string(part.substr(0, eq))] =
            eq == std::string_view::npos ? "" : std::string(part.substr(eq + 1));
        if (end == std::string_view::npos) {
          break;
        }
        start = end + 1;
      }
      auto r = parse_recording_filter(query);
      if (auto *f = std::get_if<RecordingFilter>(&r)) {
        if (f->limit < 1 || f->limit > 1000 || f->offset < 0 ||
            (f->from_ms >= 0 && f->to_ms >= 0 && f->from_ms > f->to_ms)) {
          std::abort();
        }
      }
      break;
    }
    default: {
      if (auto id = parse_id(text); id && *id <= 0) {
        std::abort();
      }
      if (auto ms = parse_time(text)) {
        format_time(*ms);
      }
      break;
    }
  }
  return 0;
}
