#include "recording_service.h"

#include "http_reply.h"
#include "jobs.h"
#include "rebroadcast.h"
#include "recorder.h"
#include "recording.h"
#include "recording_api.h"
#include "recording_catalog.h"
#include "safepath.h"
#include "util/json.h"
#include "util/maincontext.h"

#include <glib/gstdio.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

namespace livepipe::signaling::recording {
namespace {

namespace fs = std::filesystem;

constexpr const char *kRestartReason = "the server stopped while this was running";
constexpr guint kShutdownWaitMs = 8000;

int64_t now_ms() {
  return g_get_real_time() / 1000;
}

void respond_node(SoupServerMessage *msg, guint status, json::NodePtr node) {
  reply_json(msg, status, json::to_string(node.get()));
}

bool method_is(SoupServerMessage *msg, const std::string &method,
               std::initializer_list<const char *> allowed) {
  for (const char *m : allowed) {
    if (method == m) {
      return true;
    }
  }
  std::string list;
  for (const char *m : allowed) {
    list += list.empty() ? m : std::string(", ") + m;
  }
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                               list.c_str());
  reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use " + list);
  return false;
}

std::map<std::string, std::string> query_map(GHashTable *query) {
  std::map<std::string, std::string> out;
  if (!query) {
    return out;
  }
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, query);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    out[static_cast<const char *>(key)] = value ? static_cast<const char *>(value) : "";
  }
  return out;
}

std::vector<std::string> split_path(const std::string &path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// A file name a VOD job wrote (index.m3u8, init-0.mp4, seg-0-1.m4s).
bool valid_file_name(const std::string &name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; });
}

const char *content_type_for(const std::string &name) {
  if (g_str_has_suffix(name.c_str(), ".m3u8")) {
    return "application/vnd.apple.mpegurl";
  }
  if (g_str_has_suffix(name.c_str(), ".m4s")) {
    return "video/iso.segment";
  }
  return "video/mp4";
}

std::vector<SegmentRow> rows_from(const replay::Recording &recording) {
  std::vector<SegmentRow> rows;
  for (const auto &s : recording.manifest.segments) {
    rows.push_back(SegmentRow{s.index, s.path, s.start_ns, s.duration_ns, s.size, s.wallclock,
                              s.discont, s.complete});
  }
  return rows;
}

}  // namespace

struct RecordingService::Impl {
  const RecordingSettings &settings;
  media::MediaService &media;
  Logger &log;
  fs::path presets_dir;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<JobRunner> runner;
  struct Active {
    int64_t id = 0;
    std::unique_ptr<Recorder> recorder;
    bool stopping = false;
  };
  std::map<std::string, Active> active;                          // by stream
  std::map<int64_t, std::unique_ptr<Rebroadcast>> rebroadcasts;  // running, by job
  SourceGuard progress_timer;
  std::function<void()> on_shutdown;
  std::function<void(const RecordingRow &)> on_done;
  SourceGuard shutdown_timeout;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Impl(const RecordingSettings &s, media::MediaService &m, Logger &l, fs::path presets)
      : settings(s), media(m), log(l), presets_dir(std::move(presets)) {}

  fs::path data_dir() const { return settings.dir; }
  fs::path recordings_root() const { return data_dir() / "recordings"; }
  fs::path job_dir(int64_t id) const { return data_dir() / "jobs" / std::to_string(id); }
  std::string job_output(const JobRow &job) const {
    return (job_dir(job.id) / (job.type == "clip" ? "clip.mp4" : "vod")).string();
  }

  // The manifest's directory of a catalogued recording.
  std::string recording_dir(const RecordingRow &row) const {
    return (recordings_root() / row.directory).string();
  }

  // Reads what is on disk into the catalog (segments a crash left open are
  // measured from their fragments).
  void reconcile(const RecordingRow &row) {
    std::string error;
    auto loaded = replay::load_recording(recording_dir(row), &error);
    if (!loaded) {
      return;  // nothing reached the disk; the catalog keeps what it has
    }
    if (!catalog->replace_segments(row.id, rows_from(*loaded), &error)) {
      log.warn("catalog", {{"error", error}});
    }
  }

  // ---- recordings

  std::variant<RecordingRow, std::string> start_recording(media::Stream &stream) {
    const std::string name = stream.name();
    if (active.count(name)) {
      return "stream " + name + " is already being recorded";
    }
    std::string error;
    if (!record::validate_stream_name(name, &error)) {
      return "stream " + name + " cannot be recorded: " + error;
    }
    auto row = catalog->add_recording(name, now_ms(), &error);
    if (!row) {
      return error;
    }
    RecorderOptions options;
    options.root = recordings_root().string();
    options.directory = row->directory;
    options.stream = name;
    options.format = settings.format;
    options.segment_ns = static_cast<uint64_t>(settings.segment_seconds) * 1'000'000'000ull;
    options.fragment_ms = static_cast<unsigned>(settings.fragment_ms);
    int64_t id = row->id;
    std::weak_ptr<bool> weak = alive;
    Recorder::Events events;
    events.on_segment = [this, id](const SegmentRow &segment) {
      std::string why;
      if (!catalog->put_segment(id, segment, &why)) {
        log.warn("catalog", {{"error", why}});
      }
    };
    events.on_finished = [this, weak, name, id](const std::string &why) {
      // The recorder called us: it is destroyed afterwards.
      post_to(g_main_context_get_thread_default(), [this, weak, name, id, why] {
        if (weak.lock()) {
          recording_finished(name, id, why);
        }
      });
    };
    auto recorder = std::make_unique<Recorder>(options, std::move(events));
    if (!recorder->start(stream, &error)) {
      recorder.reset();
      catalog->finish_recording(id, "failed", now_ms(), error, nullptr);
      log.error("recording-failed", {{"stream", name}, {"error", error}});
      return error;
    }
    active[name] = Active{id, std::move(recorder), false};
    log.info("recording", {{"stream", name}, {"recording", std::to_string(id)}});
    return *catalog->recording(id);
  }

  void recording_finished(const std::string &stream, int64_t id, const std::string &why) {
    auto it = active.find(stream);
    if (it != active.end() && it->second.id == id) {
      active.erase(it);
    }
    if (auto row = catalog->recording(id)) {
      reconcile(*row);
    }
    std::string error;
    if (!catalog->finish_recording(id, why.empty() ? "finished" : "failed", now_ms(), why,
                                   &error)) {
      log.warn("catalog", {{"error", error}});
    }
    if (why.empty()) {
      log.info("recording-finished", {{"stream", stream}, {"recording", std::to_string(id)}});
    } else {
      log.error("recording-failed", {{"stream", stream}, {"error", why}});
    }
    if (on_done) {
      if (auto row = catalog->recording(id)) {
        on_done(*row);
      }
    }
    if (on_shutdown && active.empty()) {
      shutdown_timeout.reset();
      std::exchange(on_shutdown, nullptr)();
    }
  }

  void stop_recording(Active &a, bool stream_gone) {
    if (a.stopping) {
      return;
    }
    a.stopping = true;
    if (stream_gone) {
      a.recorder->stream_ending();
    } else {
      a.recorder->stop();
    }
  }

  // ---- jobs

  void pump() {
    while (runner->running() < static_cast<size_t>(settings.max_concurrent_jobs)) {
      auto queued = catalog->queued_jobs();
      if (queued.empty()) {
        return;
      }
      JobRow job = queued.front();
      auto rec = catalog->recording(job.recording_id);
      std::string error;
      job.started_ms = now_ms();
      if (!rec) {
        job.state = "failed";
        job.error = "recording " + std::to_string(job.recording_id) + " is gone";
        job.finished_ms = job.started_ms;
        catalog->update_job(job, &error);
        continue;
      }
      job.state = "running";
      job.output = job_output(job);
      std::error_code ec;
      fs::remove_all(job_dir(job.id), ec);
      fs::create_directories(job_dir(job.id), ec);
      if (!catalog->update_job(job, &error)) {
        log.warn("catalog", {{"error", error}});
      }
      log.info("job-started", {{"job", std::to_string(job.id)}, {"type", job.type}});
      runner->run(JobWork{job, recording_dir(*rec), job.output});
    }
  }

  void job_done(int64_t id, const JobOutcome &outcome) {
    auto job = catalog->job(id);
    if (job) {
      job->finished_ms = now_ms();
      job->state = outcome.ok ? "done" : outcome.cancelled ? "cancelled" : "failed";
      job->error = outcome.ok || outcome.cancelled ? "" : outcome.error;
      job->progress = outcome.ok ? 1.0 : job->progress;
      job->result = outcome.result;
      std::string error;
      if (!outcome.ok) {
        std::error_code ec;
        fs::remove_all(job_dir(id), ec);
      }
      if (!catalog->update_job(*job, &error)) {
        log.warn("catalog", {{"error", error}});
      }
      log.info("job-finished",
               {{"job", std::to_string(id)}, {"state", job->state}, {"error", job->error}});
    }
    pump();
  }

  std::optional<double> live_progress(const JobRow &job) const {
    if (auto it = rebroadcasts.find(job.id); it != rebroadcasts.end()) {
      return it->second->progress();
    }
    return runner->progress(job.id);
  }

  Rebroadcast *rebroadcast_of(const std::string &stream) {
    for (auto &[id, r] : rebroadcasts) {
      if (r->stream() == stream) {
        return r.get();
      }
    }
    return nullptr;
  }

  // A rebroadcast runs at once (it is a live stream, not queued work).
  void create_rebroadcast(SoupServerMessage *msg, const JobRequest &request,
                          const RecordingRow &row) {
    if (row.state == "recording") {
      reply_error(msg, SOUP_STATUS_CONFLICT,
                  "recording " + std::to_string(row.id) +
                      " is still being recorded; rebroadcast it once it has finished");
      return;
    }
    if (media.find_stream(request.stream) || rebroadcast_of(request.stream)) {
      reply_error(msg, SOUP_STATUS_CONFLICT, "stream " + request.stream + " already exists");
      return;
    }
    std::string error;
    auto loaded = replay::load_recording(recording_dir(row), &error);
    if (!loaded || loaded->manifest.duration_ns() == 0) {
      reply_error(msg, SOUP_STATUS_CONFLICT,
                  "recording " + std::to_string(row.id) + " holds no media");
      return;
    }
    uint64_t duration = loaded->manifest.duration_ns();
    if (static_cast<uint64_t>(request.start_ns) >= duration) {
      char text[160];
      g_snprintf(text, sizeof text, "start %.3f s is past the end of recording %lld (%.3f s)",
                 static_cast<double>(request.start_ns) / 1e9, static_cast<long long>(row.id),
                 static_cast<double>(duration) / 1e9);
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, text);
      return;
    }
    JobRow job;
    job.type = "rebroadcast";
    job.recording_id = row.id;
    job.stream = row.stream;
    job.start_ns = request.start_ns;
    job.end_ns = request.end_ns;
    job.output = request.stream;
    job.state = "running";
    job.created_ms = now_ms();
    job.started_ms = job.created_ms;
    if (!catalog->add_job(&job, &error)) {
      reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error);
      return;
    }
    int64_t id = job.id;
    auto rebroadcast = std::make_unique<Rebroadcast>(
        media, [this, id](const JobOutcome &outcome) { rebroadcast_done(id, outcome); });
    RebroadcastOptions options;
    options.stream = request.stream;
    options.presets_dir = presets_dir;
    options.start_ns = static_cast<uint64_t>(request.start_ns);
    options.end_ns = request.end_ns < 0 ? UINT64_MAX : static_cast<uint64_t>(request.end_ns);
    Rebroadcast *raw = rebroadcast.get();
    rebroadcasts[id] = std::move(rebroadcast);
    if (!raw->start(*loaded, options, &error)) {
      rebroadcasts.erase(id);
      catalog->delete_job(id, nullptr);
      log.error("rebroadcast-refused", {{"recording", std::to_string(row.id)}, {"error", error}});
      reply_error(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, error);
      return;
    }
    log.info("job-started",
             {{"job", std::to_string(id)}, {"type", job.type}, {"stream", request.stream}});
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                                 ("/api/v1/jobs/" + std::to_string(id)).c_str());
    respond_node(msg, SOUP_STATUS_ACCEPTED, job_json(job, raw->progress()));
  }

  void rebroadcast_done(int64_t id, const JobOutcome &outcome) {
    // Called by the rebroadcast, which goes with the map entry: after this
    // nothing of it is touched.
    auto it = rebroadcasts.find(id);
    double progress = it != rebroadcasts.end() ? it->second->progress() : 0;
    if (auto job = catalog->job(id)) {
      job->finished_ms = now_ms();
      job->state = outcome.ok ? "done" : outcome.cancelled ? "cancelled" : "failed";
      job->error = outcome.ok || outcome.cancelled ? "" : outcome.error;
      job->progress = outcome.ok ? 1.0 : progress;
      job->result = outcome.result;
      std::string error;
      if (!catalog->update_job(*job, &error)) {
        log.warn("catalog", {{"error", error}});
      }
      log.info("job-finished",
               {{"job", std::to_string(id)}, {"state", job->state}, {"error", job->error}});
    }
    if (it != rebroadcasts.end()) {
      rebroadcasts.erase(it);
    }
  }

  // ---- HTTP

  bool route(SoupServerMessage *msg, const std::string &method, const std::string &path,
             GHashTable *query) {
    auto parts = split_path(path);  // "", "api", "v1", ...
    if (parts.size() < 4) {
      return false;
    }
    const std::string &area = parts[3];
    bool ours = area == "recordings" || area == "jobs" ||
                (area == "streams" && parts.size() == 6 &&
                 (parts[5] == "recording" || parts[5] == "instant-replay"));
    if (!ours) {
      return false;
    }
    if (!catalog) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND,
                  "recording is off: set recording.dir in the configuration");
      return true;
    }
    if (area == "recordings") {
      recordings_api(msg, method, parts, query);
    } else if (area == "jobs") {
      jobs_api(msg, method, parts, query);
    } else {
      streams_api(msg, method, parts[4], parts[5]);
    }
    return true;
  }

  void recordings_api(SoupServerMessage *msg, const std::string &method,
                      const std::vector<std::string> &parts, GHashTable *query) {
    if (!method_is(msg, method, {"GET"})) {
      return;
    }
    if (parts.size() == 4) {
      auto filter = parse_recording_filter(query_map(query));
      if (auto *why = std::get_if<std::string>(&filter)) {
        reply_error(msg, SOUP_STATUS_BAD_REQUEST, *why);
        return;
      }
      json::NodePtr list(json_node_new(JSON_NODE_ARRAY));
      JsonArray *array = json_array_new();
      for (const auto &r : catalog->recordings(std::get<RecordingFilter>(filter))) {
        json_array_add_element(array, recording_json(r, false).release());
      }
      json_node_take_array(list.get(), array);
      respond_node(msg, SOUP_STATUS_OK,
                   json::ObjectBuilder().set("recordings", std::move(list)).build());
      return;
    }
    if (parts.size() != 5) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
    auto id = parse_id(parts[4]);
    if (!id) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, "a recording id is a positive integer");
      return;
    }
    auto row = catalog->recording(*id);
    if (!row) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no recording " + parts[4]);
      return;
    }
    respond_node(msg, SOUP_STATUS_OK, recording_json(*row, true));
  }

  void streams_api(SoupServerMessage *msg, const std::string &method, const std::string &stream,
                   const std::string &what) {
    if (what == "recording") {
      if (!method_is(msg, method, {"GET", "POST", "DELETE"})) {
        return;
      }
      auto it = active.find(stream);
      if (method == "GET" || method == "DELETE") {
        if (it == active.end() || it->second.stopping) {
          reply_error(msg, SOUP_STATUS_NOT_FOUND, "stream " + stream + " is not being recorded");
          return;
        }
        int64_t id = it->second.id;
        if (method == "DELETE") {
          stop_recording(it->second, false);
        }
        auto row = catalog->recording(id);
        json::NodePtr node = recording_json(*row, false);
        if (method == "DELETE") {
          // The open segment is being finished; GET /api/v1/recordings/{id}
          // shows "finished" once it is.
          json_object_set_boolean_member(json_node_get_object(node.get()), "stopping", TRUE);
        }
        respond_node(msg, method == "DELETE" ? SOUP_STATUS_ACCEPTED : SOUP_STATUS_OK,
                     std::move(node));
        return;
      }
      media::Stream *s = media.find_stream(stream);
      if (!s) {
        reply_error(msg, SOUP_STATUS_NOT_FOUND,
                    "no stream named " + stream + " is being published");
        return;
      }
      if (it != active.end()) {
        reply_error(msg, SOUP_STATUS_CONFLICT,
                    "stream " + stream + " is already being recorded (recording " +
                        std::to_string(it->second.id) + ")");
        return;
      }
      auto started = start_recording(*s);
      if (auto *why = std::get_if<std::string>(&started)) {
        reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, *why);
        return;
      }
      const auto &row = std::get<RecordingRow>(started);
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                                   ("/api/v1/recordings/" + std::to_string(row.id)).c_str());
      respond_node(msg, SOUP_STATUS_CREATED, recording_json(row, false));
      return;
    }
    // instant-replay
    if (!method_is(msg, method, {"POST"})) {
      return;
    }
    auto seconds = parse_instant_replay(request_body(msg), settings.max_instant_replay_seconds);
    if (auto *why = std::get_if<std::string>(&seconds)) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, *why);
      return;
    }
    auto it = active.find(stream);
    if (it == active.end() || it->second.stopping) {
      reply_error(msg, media.find_stream(stream) ? SOUP_STATUS_CONFLICT : SOUP_STATUS_NOT_FOUND,
                  media.find_stream(stream) ? "stream " + stream + " is not being recorded"
                                            : "no stream named " + stream + " is being published");
      return;
    }
    auto row = catalog->recording(it->second.id);
    std::string error;
    // What is on disk now: the finished segments and the whole fragments of
    // the one being written.
    auto loaded = replay::load_recording(recording_dir(*row), &error);
    uint64_t duration = loaded ? loaded->manifest.duration_ns() : 0;
    if (duration == 0) {
      reply_error(msg, SOUP_STATUS_CONFLICT,
                  "nothing of stream " + stream + " has been recorded yet");
      return;
    }
    JobRow job;
    job.type = "clip";
    job.instant = true;
    job.recording_id = row->id;
    job.stream = stream;
    auto wanted = static_cast<uint64_t>(std::get<double>(seconds) * 1e9);
    job.start_ns = static_cast<int64_t>(duration > wanted ? duration - wanted : 0);
    job.end_ns = static_cast<int64_t>(duration);
    submit(msg, job);
  }

  void submit(SoupServerMessage *msg, JobRow job) {
    job.state = "queued";
    job.created_ms = now_ms();
    std::string error;
    if (!catalog->add_job(&job, &error)) {
      reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error);
      return;
    }
    log.info("job-queued", {{"job", std::to_string(job.id)}, {"type", job.type}});
    pump();
    auto stored = catalog->job(job.id);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                                 ("/api/v1/jobs/" + std::to_string(job.id)).c_str());
    respond_node(msg, SOUP_STATUS_ACCEPTED, job_json(*stored, live_progress(*stored)));
  }

  void jobs_api(SoupServerMessage *msg, const std::string &method,
                const std::vector<std::string> &parts, GHashTable *query) {
    if (parts.size() == 4) {
      if (!method_is(msg, method, {"GET", "POST"})) {
        return;
      }
      if (method == "POST") {
        create_job(msg);
        return;
      }
      std::string state;
      for (const auto &[name, value] : query_map(query)) {
        if (name == "state") {
          if (value != "queued" && value != "running" && value != "done" && value != "failed" &&
              value != "cancelled") {
            reply_error(msg, SOUP_STATUS_BAD_REQUEST,
                        "state must be queued, running, done, failed or cancelled");
            return;
          }
          state = value;
        } else if (name != "token") {
          reply_error(msg, SOUP_STATUS_BAD_REQUEST, "unknown parameter " + name + " (state)");
          return;
        }
      }
      json::NodePtr list(json_node_new(JSON_NODE_ARRAY));
      JsonArray *array = json_array_new();
      for (const auto &j : catalog->jobs(state, 1000)) {
        json_array_add_element(array, job_json(j, live_progress(j)).release());
      }
      json_node_take_array(list.get(), array);
      respond_node(msg, SOUP_STATUS_OK, json::ObjectBuilder().set("jobs", std::move(list)).build());
      return;
    }
    auto id = parse_id(parts[4]);
    if (!id) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, "a job id is a positive integer");
      return;
    }
    auto job = catalog->job(*id);
    if (!job) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no job " + parts[4]);
      return;
    }
    if (parts.size() == 5) {
      if (!method_is(msg, method, {"GET", "DELETE"})) {
        return;
      }
      if (method == "GET") {
        respond_node(msg, SOUP_STATUS_OK, job_json(*job, live_progress(*job)));
      } else {
        cancel_job(msg, *job);
      }
      return;
    }
    if (!method_is(msg, method, {"GET", "HEAD"})) {
      return;
    }
    std::string name;
    if (parts.size() == 6 && parts[5] == "output" && job->type == "clip") {
      name = "clip.mp4";
    } else if (parts.size() == 7 && parts[5] == "files" && job->type == "vod" &&
               valid_file_name(parts[6])) {
      name = parts[6];
    } else {
      reply_error(msg, SOUP_STATUS_NOT_FOUND,
                  job->type == "clip" ? "a clip's file is at /api/v1/jobs/ID/output"
                  : job->type == "vod"
                      ? "a VOD's files are at /api/v1/jobs/ID/files/NAME"
                      : "a rebroadcast has no files: it plays to /whep/" + job->output);
      return;
    }
    if (job->state != "done") {
      reply_error(msg, SOUP_STATUS_CONFLICT, "job " + parts[4] + " is " + job->state);
      return;
    }
    fs::path file = job->type == "clip" ? fs::path(job->output) : fs::path(job->output) / name;
    GError *gerror = nullptr;
    GMappedFile *mapped = g_mapped_file_new(file.c_str(), FALSE, &gerror);
    if (!mapped) {
      g_clear_error(&gerror);
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no file " + name);
      return;
    }
    GBytes *bytes = g_mapped_file_get_bytes(mapped);
    g_mapped_file_unref(mapped);
    soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
    soup_message_headers_set_content_type(soup_server_message_get_response_headers(msg),
                                          content_type_for(name), nullptr);
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
    g_bytes_unref(bytes);
  }

  void create_job(SoupServerMessage *msg) {
    auto parsed = parse_job_request(request_body(msg));
    if (auto *why = std::get_if<std::string>(&parsed)) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, *why);
      return;
    }
    const JobRequest &request = std::get<JobRequest>(parsed);
    auto row = catalog->recording(request.recording);
    if (!row) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no recording " + std::to_string(request.recording));
      return;
    }
    if (request.type == "rebroadcast") {
      create_rebroadcast(msg, request, *row);
      return;
    }
    // A recording still being written is measured on disk; others as catalogued.
    uint64_t duration = row->duration_ns;
    if (row->state == "recording") {
      std::string error;
      auto loaded = replay::load_recording(recording_dir(*row), &error);
      duration = loaded ? loaded->manifest.duration_ns() : 0;
    }
    if (duration == 0) {
      reply_error(msg, SOUP_STATUS_CONFLICT,
                  "recording " + std::to_string(row->id) + " holds no media");
      return;
    }
    if (static_cast<uint64_t>(request.start_ns) >= duration) {
      char text[160];
      g_snprintf(text, sizeof text, "start %.3f s is past the end of recording %lld (%.3f s)",
                 static_cast<double>(request.start_ns) / 1e9, static_cast<long long>(row->id),
                 static_cast<double>(duration) / 1e9);
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, text);
      return;
    }
    JobRow job;
    job.type = request.type;
    job.recording_id = row->id;
    job.stream = row->stream;
    job.start_ns = request.start_ns;
    job.end_ns = request.end_ns;
    job.accurate = request.accurate;
    submit(msg, job);
  }

  void cancel_job(SoupServerMessage *msg, JobRow job) {
    std::string error;
    if (job.state == "queued") {
      job.state = "cancelled";
      job.finished_ms = now_ms();
      catalog->update_job(job, &error);
      respond_node(msg, SOUP_STATUS_OK, job_json(job));
      return;
    }
    if (job.state == "running") {
      if (auto it = rebroadcasts.find(job.id); it != rebroadcasts.end()) {
        it->second->cancel();  // ends the stream; the job is cancelled once it has
      } else {
        runner->cancel(job.id);
      }
      respond_node(msg, SOUP_STATUS_ACCEPTED, job_json(job, live_progress(job)));
      return;
    }
    // A finished job: DELETE removes it and its files.
    std::error_code ec;
    fs::remove_all(job_dir(job.id), ec);
    if (!catalog->delete_job(job.id, &error)) {
      reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error);
      return;
    }
    soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
  }
};

RecordingService::RecordingService(const RecordingSettings &settings, media::MediaService &media,
                                   Logger &log, std::filesystem::path presets_dir)
    : impl_(std::make_unique<Impl>(settings, media, log, std::move(presets_dir))) {}

RecordingService::~RecordingService() {
  *impl_->alive = false;
  impl_->progress_timer.reset();
  impl_->runner.reset();
  impl_->rebroadcasts.clear();
  impl_->active.clear();
}

bool RecordingService::open(std::string *error) {
  Impl &s = *impl_;
  if (!s.settings.enabled()) {
    return true;
  }
  std::error_code ec;
  fs::create_directories(s.recordings_root(), ec);
  if (!ec) {
    fs::create_directories(s.data_dir() / "jobs", ec);
  }
  if (ec) {
    *error = "cannot create the recording directory " + s.data_dir().string() + ": " + ec.message();
    return false;
  }
  s.catalog = Catalog::open((s.data_dir() / "catalog.sqlite").string(), error);
  if (!s.catalog) {
    return false;
  }
  Recovery recovery = s.catalog->recover(now_ms(), kRestartReason);
  for (int64_t id : recovery.interrupted_recordings) {
    if (auto row = s.catalog->recording(id)) {
      s.reconcile(*row);
    }
    s.log.warn("recording-interrupted", {{"recording", std::to_string(id)}});
  }
  for (const auto &job : recovery.failed_jobs) {
    fs::remove_all(s.job_dir(job.id), ec);
    s.log.warn("job-interrupted", {{"job", std::to_string(job.id)}});
  }
  s.runner = std::make_unique<JobRunner>(
      [&s](int64_t id, const JobOutcome &outcome) { s.job_done(id, outcome); });
  // Progress of running jobs reaches the catalog once a second.
  s.progress_timer = add_timeout(g_main_context_get_thread_default(), 1000, [&s] {
    for (const auto &job : s.catalog->jobs("running", 64)) {
      if (auto p = s.live_progress(job); p && *p != job.progress) {
        JobRow updated = job;
        updated.progress = *p;
        s.catalog->update_job(updated, nullptr);
      }
    }
    return true;
  });
  s.pump();
  return true;
}

std::string record_done_event(const RecordingRow &row) {
  json::ObjectBuilder out;
  out.set("event", "record_done")
      .set("stream", row.stream)
      .set("recording", row.id)
      .set("state", row.state)
      .set("directory", row.directory)
      .set("started_ms", row.started_ms)
      .set("ended_ms", row.ended_ms)
      .set("duration_ms", static_cast<int64_t>(row.duration_ns / 1000000))
      .set("size", static_cast<int64_t>(row.size))
      .set("segments", row.segment_count);
  row.error.empty() ? out.set_null("error") : out.set("error", row.error);
  return out.to_string();
}

void RecordingService::on_recording_done(std::function<void(const RecordingRow &)> done) {
  impl_->on_done = std::move(done);
}

void RecordingService::install(Server &server) {
  Impl &s = *impl_;
  server.add_admin_route([&s](SoupServerMessage *msg, const std::string &method,
                              const std::string &path,
                              GHashTable *query) { return s.route(msg, method, path, query); });
  if (!s.catalog) {
    return;
  }
  media::MediaService::StreamHooks hooks;
  hooks.started = [&s](media::Stream &stream) {
    if (s.settings.records_from_start(stream.name())) {
      s.start_recording(stream);
    }
  };
  hooks.ending = [&s](media::Stream &stream, const std::string &reason) {
    if (Rebroadcast *r = s.rebroadcast_of(stream.name())) {
      r->stream_ending(reason);
    }
    auto it = s.active.find(stream.name());
    if (it != s.active.end()) {
      s.stop_recording(it->second, true);
    }
  };
  s.media.add_stream_hooks(std::move(hooks));
}

void RecordingService::shutdown(std::function<void()> done) {
  Impl &s = *impl_;
  if (s.on_shutdown) {
    return;  // already finishing the recordings
  }
  if (s.active.empty()) {
    done();
    return;
  }
  s.on_shutdown = std::move(done);
  for (auto &[name, a] : s.active) {
    s.stop_recording(a, false);
  }
  s.shutdown_timeout = add_timeout(g_main_context_get_thread_default(), kShutdownWaitMs, [&s] {
    if (s.on_shutdown) {
      std::exchange(s.on_shutdown, nullptr)();
    }
    return false;
  });
}

}  // namespace livepipe::signaling::recording
