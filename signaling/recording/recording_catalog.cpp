#include "recording_catalog.h"

#include <sqlite3.h>

#include <functional>

namespace livepipe::signaling::recording {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS recordings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT NOT NULL,
  directory TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS recordings_stream ON recordings(stream, started_ms);
CREATE TABLE IF NOT EXISTS segments (
  recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  path TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  duration_ns INTEGER NOT NULL,
  size INTEGER NOT NULL,
  wallclock TEXT NOT NULL,
  discont INTEGER NOT NULL,
  complete INTEGER NOT NULL,
  PRIMARY KEY (recording_id, idx)
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  recording_id INTEGER NOT NULL,
  stream TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL,
  accurate INTEGER NOT NULL,
  instant INTEGER NOT NULL,
  state TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  output TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '{}',
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
)sql";

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3 *db, const char *sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      stmt_ = nullptr;
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Stmt &bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt &bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt &bind(int i, const std::string &v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  bool run(std::string *error) {
    int rc = step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      if (error) {
        *error = std::string("catalog: ") + sqlite3_errmsg(db_);
      }
      return false;
    }
    return true;
  }
  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const unsigned char *t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char *>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3 *db_;
  sqlite3_stmt *stmt_ = nullptr;
};

bool exec(sqlite3 *db, const char *sql, std::string *error) {
  char *message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    if (error) {
      *error = std::string("catalog: ") + (message ? message : sqlite3_errmsg(db));
    }
    sqlite3_free(message);
    return false;
  }
  return true;
}

// Runs `body` in one transaction; rolls back when it returns false.
bool transaction(sqlite3 *db, std::string *error, const std::function<bool()> &body) {
  if (!exec(db, "BEGIN IMMEDIATE", error)) {
    return false;
  }
  if (!body()) {
    exec(db, "ROLLBACK", nullptr);
    return false;
  }
  return exec(db, "COMMIT", error);
}

constexpr const char *kRecordingColumns =
    "SELECT r.id, r.stream, r.directory, r.state, r.started_ms, r.ended_ms, r.error, "
    "COALESCE((SELECT MAX(start_ns + duration_ns) FROM segments s WHERE s.recording_id = r.id), "
    "0), COALESCE((SELECT SUM(size) FROM segments s WHERE s.recording_id = r.id), 0), "
    "(SELECT COUNT(*) FROM segments s WHERE s.recording_id = r.id) FROM recordings r ";

RecordingRow read_recording(const Stmt &s) {
  RecordingRow r;
  r.id = s.i64(0);
  r.stream = s.text(1);
  r.directory = s.text(2);
  r.state = s.text(3);
  r.started_ms = s.i64(4);
  r.ended_ms = s.i64(5);
  r.error = s.text(6);
  r.duration_ns = static_cast<uint64_t>(s.i64(7));
  r.size = static_cast<uint64_t>(s.i64(8));
  r.segment_count = s.i64(9);
  return r;
}

constexpr const char *kJobColumns =
    "SELECT id, type, recording_id, stream, start_ns, end_ns, accurate, instant, state, "
    "progress, error, output, result, created_ms, started_ms, finished_ms FROM jobs ";

JobRow read_job(const Stmt &s) {
  JobRow j;
  j.id = s.i64(0);
  j.type = s.text(1);
  j.recording_id = s.i64(2);
  j.stream = s.text(3);
  j.start_ns = s.i64(4);
  j.end_ns = s.i64(5);
  j.accurate = s.i64(6) != 0;
  j.instant = s.i64(7) != 0;
  j.state = s.text(8);
  j.progress = s.real(9);
  j.error = s.text(10);
  j.output = s.text(11);
  j.result = s.text(12);
  j.created_ms = s.i64(13);
  j.started_ms = s.i64(14);
  j.finished_ms = s.i64(15);
  return j;
}

bool insert_segment(sqlite3 *db, int64_t recording, const SegmentRow &seg, std::string *error) {
  Stmt s(db,
         "INSERT OR REPLACE INTO segments (recording_id, idx, path, start_ns, duration_ns, size, "
         "wallclock, discont, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, recording)
      .bind(2, static_cast<int64_t>(seg.index))
      .bind(3, seg.path)
      .bind(4, static_cast<int64_t>(seg.start_ns))
      .bind(5, static_cast<int64_t>(seg.duration_ns))
      .bind(6, static_cast<int64_t>(seg.size))
      .bind(7, seg.wallclock)
      .bind(8, int64_t{seg.discont})
      .bind(9, int64_t{seg.complete});
  return s.run(error);
}

}  // namespace

std::unique_ptr<Catalog> Catalog::open(const std::string &path, std::string *error) {
  sqlite3 *db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    *error = "cannot open the catalog '" + path + "': " + (db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<Catalog> catalog(new Catalog(db));
  sqlite3_busy_timeout(db, 2000);
  // WAL keeps readers and the writer apart and survives a crash of the
  // process; NORMAL sync loses at most the last commits on a power cut.
  if (!exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            error)) {
    return nullptr;
  }
  Stmt version(db, "PRAGMA user_version");
  int64_t current = version.step() == SQLITE_ROW ? version.i64(0) : -1;
  if (current > kSchemaVersion) {
    *error = "the catalog '" + path + "' was written by a newer livepipe (schema " +
             std::to_string(current) + ")";
    return nullptr;
  }
  if (!exec(db, kSchema, error) ||
      !exec(db, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str(), error)) {
    *error = "cannot set up the catalog '" + path + "': " + *error;
    return nullptr;
  }
  return catalog;
}

Catalog::~Catalog() {
  sqlite3_close(db_);
}

Recovery Catalog::recover(int64_t now_ms, const std::string &reason) {
  Recovery out;
  {
    Stmt s(db_, "SELECT id FROM recordings WHERE state = 'recording' ORDER BY id");
    while (s.step() == SQLITE_ROW) {
      out.interrupted_recordings.push_back(s.i64(0));
    }
  }
  {
    Stmt s(db_, (std::string(kJobColumns) + "WHERE state = 'running' ORDER BY id").c_str());
    while (s.step() == SQLITE_ROW) {
      out.failed_jobs.push_back(read_job(s));
    }
  }
  transaction(db_, nullptr, [&] {
    Stmt r(db_,
           "UPDATE recordings SET state = 'interrupted', ended_ms = ?, error = ? "
           "WHERE state = 'recording'");
    r.bind(1, now_ms).bind(2, reason);
    Stmt j(db_,
           "UPDATE jobs SET state = 'failed', finished_ms = ?, error = ? WHERE state = 'running'");
    j.bind(1, now_ms).bind(2, reason);
    return r.run(nullptr) && j.run(nullptr);
  });
  for (auto &job : out.failed_jobs) {
    job.state = "failed";
    job.error = reason;
    job.finished_ms = now_ms;
  }
  return out;
}

std::optional<RecordingRow> Catalog::add_recording(const std::string &stream, int64_t started_ms,
                                                   std::string *error) {
  int64_t id = 0;
  bool ok = transaction(db_, error, [&] {
    Stmt s(db_, "INSERT INTO recordings (stream, state, started_ms) VALUES (?, 'recording', ?)");
    s.bind(1, stream).bind(2, started_ms);
    if (!s.run(error)) {
      return false;
    }
    id = sqlite3_last_insert_rowid(db_);
    Stmt d(db_, "UPDATE recordings SET directory = ? WHERE id = ?");
    d.bind(1, stream + "/" + std::to_string(id)).bind(2, id);
    return d.run(error);
  });
  if (!ok) {
    return std::nullopt;
  }
  return recording(id);
}

bool Catalog::put_segment(int64_t recording, const SegmentRow &segment, std::string *error) {
  return insert_segment(db_, recording, segment, error);
}

bool Catalog::replace_segments(int64_t recording, const std::vector<SegmentRow> &segments,
                               std::string *error) {
  return transaction(db_, error, [&] {
    Stmt del(db_, "DELETE FROM segments WHERE recording_id = ?");
    del.bind(1, recording);
    if (!del.run(error)) {
      return false;
    }
    for (const auto &segment : segments) {
      if (!insert_segment(db_, recording, segment, error)) {
        return false;
      }
    }
    return true;
  });
}

bool Catalog::finish_recording(int64_t recording, const std::string &state, int64_t ended_ms,
                               const std::string &reason, std::string *error) {
  Stmt s(db_, "UPDATE recordings SET state = ?, ended_ms = ?, error = ? WHERE id = ?");
  s.bind(1, state).bind(2, ended_ms).bind(3, reason).bind(4, recording);
  return s.run(error);
}

std::optional<RecordingRow> Catalog::recording(int64_t id) {
  Stmt s(db_, (std::string(kRecordingColumns) + "WHERE r.id = ?").c_str());
  s.bind(1, id);
  if (s.step() != SQLITE_ROW) {
    return std::nullopt;
  }
  RecordingRow row = read_recording(s);
  Stmt seg(db_,
           "SELECT idx, path, start_ns, duration_ns, size, wallclock, discont, complete "
           "FROM segments WHERE recording_id = ? ORDER BY idx");
  seg.bind(1, id);
  while (seg.step() == SQLITE_ROW) {
    SegmentRow r;
    r.index = static_cast<uint64_t>(seg.i64(0));
    r.path = seg.text(1);
    r.start_ns = static_cast<uint64_t>(seg.i64(2));
    r.duration_ns = static_cast<uint64_t>(seg.i64(3));
    r.size = static_cast<uint64_t>(seg.i64(4));
    r.wallclock = seg.text(5);
    r.discont = seg.i64(6) != 0;
    r.complete = seg.i64(7) != 0;
    row.segments.push_back(std::move(r));
  }
  return row;
}

std::vector<RecordingRow> Catalog::recordings(const RecordingFilter &filter) {
  // Every condition is always present and disabled by its own parameter, so
  // the statement text never depends on the request.
  Stmt s(db_, (std::string(kRecordingColumns) +
               "WHERE (?1 = '' OR r.stream = ?1) AND (?2 = '' OR r.state = ?2) "
               "AND (?3 < 0 OR r.ended_ms = 0 OR r.ended_ms >= ?3) "
               "AND (?4 < 0 OR r.started_ms <= ?4) ORDER BY r.started_ms DESC, r.id DESC "
               "LIMIT ?5 OFFSET ?6")
                  .c_str());
  s.bind(1, filter.stream)
      .bind(2, filter.state)
      .bind(3, filter.from_ms)
      .bind(4, filter.to_ms)
      .bind(5, filter.limit)
      .bind(6, filter.offset);
  std::vector<RecordingRow> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back(read_recording(s));
  }
  return out;
}

bool Catalog::add_job(JobRow *job, std::string *error) {
  Stmt s(db_,
         "INSERT INTO jobs (type, recording_id, stream, start_ns, end_ns, accurate, instant, "
         "state, progress, error, output, result, created_ms) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, job->type)
      .bind(2, job->recording_id)
      .bind(3, job->stream)
      .bind(4, job->start_ns)
      .bind(5, job->end_ns)
      .bind(6, int64_t{job->accurate})
      .bind(7, int64_t{job->instant})
      .bind(8, job->state)
      .bind(9, job->progress)
      .bind(10, job->error)
      .bind(11, job->output)
      .bind(12, job->result.empty() ? std::string("{}") : job->result)
      .bind(13, job->created_ms);
  if (!s.run(error)) {
    return false;
  }
  job->id = sqlite3_last_insert_rowid(db_);
  return true;
}

bool Catalog::update_job(const JobRow &job, std::string *error) {
  Stmt s(db_,
         "UPDATE jobs SET state = ?, progress = ?, error = ?, output = ?, result = ?, "
         "started_ms = ?, finished_ms = ?, start_ns = ?, end_ns = ? WHERE id = ?");
  s.bind(1, job.state)
      .bind(2, job.progress)
      .bind(3, job.error)
      .bind(4, job.output)
      .bind(5, job.result.empty() ? std::string("{}") : job.result)
      .bind(6, job.started_ms)
      .bind(7, job.finished_ms)
      .bind(8, job.start_ns)
      .bind(9, job.end_ns)
      .bind(10, job.id);
  return s.run(error);
}

bool Catalog::delete_job(int64_t id, std::string *error) {
  Stmt s(db_, "DELETE FROM jobs WHERE id = ?");
  s.bind(1, id);
  return s.run(error);
}

std::optional<JobRow> Catalog::job(int64_t id) {
  Stmt s(db_, (std::string(kJobColumns) + "WHERE id = ?").c_str());
  s.bind(1, id);
  if (s.step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return read_job(s);
}

std::vector<JobRow> Catalog::jobs(const std::string &state, int64_t limit) {
  Stmt s(db_, (std::string(kJobColumns) + "WHERE (?1 = '' OR state = ?1) ORDER BY id DESC LIMIT ?2")
                  .c_str());
  s.bind(1, state).bind(2, limit);
  std::vector<JobRow> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back(read_job(s));
  }
  return out;
}

std::vector<JobRow> Catalog::queued_jobs() {
  Stmt s(db_, (std::string(kJobColumns) + "WHERE state = 'queued' ORDER BY id").c_str());
  std::vector<JobRow> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back(read_job(s));
  }
  return out;
}

}  // namespace livepipe::signaling::recording
