// The recording and jobs API's requests and replies as data: parsing of ids,
// times, filters and job bodies (hostile input gets a message, never a
// crash), and the JSON the API returns. No sockets.
#pragma once

#include "recording_catalog.h"
#include "util/json.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace livepipe::signaling::recording {

// A catalog id: a positive decimal integer.
std::optional<int64_t> parse_id(std::string_view text);

// RFC 3339 ("2026-11-24T05:00:00Z") or Unix seconds ("1795000000.5"), to Unix ms.
std::optional<int64_t> parse_time(std::string_view text);

// ?stream=&state=&from=&to=&limit=&offset= of GET /api/v1/recordings.
std::variant<RecordingFilter, std::string> parse_recording_filter(
    const std::map<std::string, std::string> &query);

// A stream name as the media service accepts it: 1 to 64 of [A-Za-z0-9._-],
// not "." or "..".
bool valid_stream_name(std::string_view name);

struct JobRequest {
  std::string type;  // clip, vod or rebroadcast
  int64_t recording = 0;
  int64_t start_ns = 0;
  int64_t end_ns = -1;  // -1: the end of the recording
  bool accurate = false;
  std::string stream;  // rebroadcast: the live stream it creates
};

// The body of POST /api/v1/jobs.
std::variant<JobRequest, std::string> parse_job_request(std::string_view body);

// The body of POST /api/v1/streams/{stream}/instant-replay: {"seconds": N},
// 0 < N <= max_seconds.
std::variant<double, std::string> parse_instant_replay(std::string_view body, int64_t max_seconds);

// Unix ms as RFC 3339 UTC with milliseconds.
std::string format_time(int64_t unix_ms);

json::NodePtr recording_json(const RecordingRow &recording, bool with_segments);
// `live_progress` replaces the stored progress of a running job.
json::NodePtr job_json(const JobRow &job, std::optional<double> live_progress = std::nullopt);

}  // namespace livepipe::signaling::recording
