// The catalog of recordings and replay jobs: an SQLite database (the
// embedded default) under the recording data directory. Used from the main
// context only; every write is its own transaction, so a crash leaves the
// catalog as it was after the last completed call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace livepipe::signaling::recording {

struct SegmentRow {
  uint64_t index = 0;
  std::string path;  // relative to the recording's directory
  uint64_t start_ns = 0;
  uint64_t duration_ns = 0;
  uint64_t size = 0;
  std::string wallclock;  // RFC 3339, when the segment opened
  bool discont = false;
  bool complete = false;
};

struct RecordingRow {
  int64_t id = 0;
  std::string stream;
  std::string directory;   // relative to the recordings root: STREAM/ID
  std::string state;       // recording, finished, interrupted, failed
  int64_t started_ms = 0;  // Unix time
  int64_t ended_ms = 0;    // 0 while recording
  uint64_t duration_ns = 0;
  uint64_t size = 0;
  int64_t segment_count = 0;
  std::string error;                 // why it failed or was interrupted
  std::vector<SegmentRow> segments;  // filled by Catalog::recording()
};

struct RecordingFilter {
  std::string stream;    // empty: any
  std::string state;     // empty: any
  int64_t from_ms = -1;  // recordings still running at or after this time
  int64_t to_ms = -1;    // recordings started at or before this time
  int64_t limit = 100;
  int64_t offset = 0;
};

struct JobRow {
  int64_t id = 0;
  std::string type;  // clip, vod
  int64_t recording_id = 0;
  std::string stream;
  int64_t start_ns = 0;
  int64_t end_ns = -1;  // -1: to the end of the recording
  bool accurate = false;
  bool instant = false;  // an instant replay of a live stream
  std::string state;     // queued, running, done, failed, cancelled
  double progress = 0;
  std::string error;
  std::string output;  // the output file or directory (absolute)
  std::string result;  // JSON object with the job's figures
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
};

struct Recovery {
  std::vector<int64_t> interrupted_recordings;  // were "recording"
  std::vector<JobRow> failed_jobs;              // were "running"
};

class Catalog {
 public:
  // Opens (creating when missing) the database at `path`.
  static std::unique_ptr<Catalog> open(const std::string &path, std::string *error);
  ~Catalog();
  Catalog(const Catalog &) = delete;
  Catalog &operator=(const Catalog &) = delete;

  // After a restart: recordings left "recording" become "interrupted" and
  // running jobs "failed", each with `reason`; queued jobs stay queued.
  Recovery recover(int64_t now_ms, const std::string &reason);

  // A new recording in state "recording"; its directory is STREAM/ID.
  std::optional<RecordingRow> add_recording(const std::string &stream, int64_t started_ms,
                                            std::string *error);
  // Adds or replaces the segment with the same index.
  bool put_segment(int64_t recording, const SegmentRow &segment, std::string *error);
  // Replaces every segment (after reading the manifest on disk).
  bool replace_segments(int64_t recording, const std::vector<SegmentRow> &segments,
                        std::string *error);
  bool finish_recording(int64_t recording, const std::string &state, int64_t ended_ms,
                        const std::string &reason, std::string *error);
  std::optional<RecordingRow> recording(int64_t id);  // with its segments
  std::vector<RecordingRow> recordings(const RecordingFilter &filter);

  // Inserts `job` (its id is set) and returns it.
  bool add_job(JobRow *job, std::string *error);
  bool update_job(const JobRow &job, std::string *error);
  bool delete_job(int64_t id, std::string *error);
  std::optional<JobRow> job(int64_t id);
  // Newest first; `state` empty: any.
  std::vector<JobRow> jobs(const std::string &state, int64_t limit);
  // Queued jobs, oldest first.
  std::vector<JobRow> queued_jobs();

 private:
  explicit Catalog(sqlite3 *db) : db_(db) {}
  sqlite3 *db_;
};

}  // namespace livepipe::signaling::recording
