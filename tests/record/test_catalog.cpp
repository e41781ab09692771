// The recordings catalog (SQLite) and the recording API's parsers: no
// sockets, no GStreamer pipelines.
#define BOOST_TEST_MODULE catalog
#include <boost/test/unit_test.hpp>

#include "recording_api.h"
#include "config.h"
#include "recording_catalog.h"

#include <glib/gstdio.h>

#include <filesystem>

using namespace livepipe::signaling::recording;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char *dir = g_dir_make_tmp("catalog-XXXXXX", nullptr);
    path = dir;
    g_free(dir);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string db() const { return (path / "catalog.sqlite").string(); }
};

std::unique_ptr<Catalog> open_catalog(const TempDir &dir) {
  std::string error;
  auto catalog = Catalog::open(dir.db(), &error);
  BOOST_TEST_REQUIRE(catalog.get(), error);
  return catalog;
}

SegmentRow segment(uint64_t index, double start, double duration, uint64_t size, bool complete) {
  SegmentRow s;
  s.index = index;
  s.path = "seg-0000" + std::to_string(index) + ".mp4";
  s.start_ns = static_cast<uint64_t>(start * 1e9);
  s.duration_ns = static_cast<uint64_t>(duration * 1e9);
  s.size = size;
  s.wallclock = "2026-11-24T05:00:00.000Z";
  s.complete = complete;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(recordings_with_segments_and_totals) {
  TempDir dir;
  auto catalog = open_catalog(dir);
  std::string error;
  auto rec = catalog->add_recording("cam", 1'795'000'000'000, &error);
  BOOST_TEST_REQUIRE(rec.has_value(), error);
  BOOST_TEST(rec->state == "recording");
  BOOST_TEST(rec->directory == "cam/" + std::to_string(rec->id));
  BOOST_TEST(catalog->put_segment(rec->id, segment(0, 0, 2.0, 1000, true), &error));
  BOOST_TEST(catalog->put_segment(rec->id, segment(1, 2.0, 1.5, 700, true), &error));
  // The same index again replaces, never duplicates.
  BOOST_TEST(catalog->put_segment(rec->id, segment(1, 2.0, 2.0, 800, true), &error));
  auto got = catalog->recording(rec->id);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->segment_count == 2);
  BOOST_TEST(got->segments.size() == 2u);
  BOOST_TEST(got->duration_ns == 4'000'000'000u);
  BOOST_TEST(got->size == 1800u);
  BOOST_TEST(catalog->finish_recording(rec->id, "finished", 1'795'000'004'000, "", &error));
  got = catalog->recording(rec->id);
  BOOST_TEST(got->state == "finished");
  BOOST_TEST(got->ended_ms == 1'795'000'004'000);
  BOOST_TEST(!catalog->recording(rec->id + 100).has_value());
}

BOOST_AUTO_TEST_CASE(filters_by_stream_state_and_time) {
  TempDir dir;
  auto catalog = open_catalog(dir);
  std::string error;
  // cam: 1000..1010 s, cam: 2000..(running), door: 1500..1600 s.
  auto a = catalog->add_recording("cam", 1'000'000, &error);
  catalog->finish_recording(a->id, "finished", 1'010'000, "", &error);
  auto b = catalog->add_recording("cam", 2'000'000, &error);
  auto c = catalog->add_recording("door", 1'500'000, &error);
  catalog->finish_recording(c->id, "failed", 1'600'000, "disk full", &error);
  auto ids = [&](RecordingFilter f) {
    std::vector<int64_t> out;
    for (const auto &r : catalog->recordings(f)) {
      out.push_back(r.id);
    }
    return out;
  };
  BOOST_TEST(ids({}) == (std::vector<int64_t>{b->id, c->id, a->id}));  // newest first
  BOOST_TEST(ids({.stream = "cam"}) == (std::vector<int64_t>{b->id, a->id}));
  BOOST_TEST(ids({.state = "failed"}) == (std::vector<int64_t>{c->id}));
  BOOST_TEST(ids({.stream = "nobody"}).empty());
  // Overlapping 1550..1700 s: door, and the running cam recording is not yet started.
  BOOST_TEST(ids({.from_ms = 1'550'000, .to_ms = 1'700'000}) == (std::vector<int64_t>{c->id}));
  // From 1900 s on: only the one still running.
  BOOST_TEST(ids({.from_ms = 1'900'000}) == (std::vector<int64_t>{b->id}));
  BOOST_TEST(ids({.limit = 1, .offset = 1}) == (std::vector<int64_t>{c->id}));
  // Hostile text is data, not SQL.
  BOOST_TEST(ids({.stream = "cam' OR '1'='1"}).empty());
}

BOOST_AUTO_TEST_CASE(restart_marks_recordings_interrupted_and_running_jobs_failed) {
  TempDir dir;
  int64_t rec_id = 0, running_id = 0, queued_id = 0, done_id = 0;
  {
    auto catalog = open_catalog(dir);
    std::string error;
    auto rec = catalog->add_recording("cam", 1'000'000, &error);
    rec_id = rec->id;
    catalog->put_segment(rec_id, segment(0, 0, 2, 100, true), &error);
    for (const char *state : {"running", "queued", "done"}) {
      JobRow job;
      job.type = "clip";
      job.recording_id = rec_id;
      job.stream = "cam";
      job.state = state;
      job.created_ms = 1'000'500;
      BOOST_TEST_REQUIRE(catalog->add_job(&job, &error), error);
      (std::string(state) == "running"  ? running_id
       : std::string(state) == "queued" ? queued_id
                                        : done_id) = job.id;
    }
  }
  // The process is gone; a new one opens the same file.
  auto catalog = open_catalog(dir);
  Recovery recovery = catalog->recover(2'000'000, "the server stopped");
  BOOST_TEST(recovery.interrupted_recordings == (std::vector<int64_t>{rec_id}));
  BOOST_TEST_REQUIRE(recovery.failed_jobs.size() == 1u);
  BOOST_TEST(recovery.failed_jobs[0].id == running_id);
  auto rec = catalog->recording(rec_id);
  BOOST_TEST(rec->state == "interrupted");
  BOOST_TEST(rec->error == "the server stopped");
  BOOST_TEST(rec->ended_ms == 2'000'000);
  BOOST_TEST(rec->segments.size() == 1u);  // kept
  BOOST_TEST(catalog->job(running_id)->state == "failed");
  BOOST_TEST(catalog->job(running_id)->error == "the server stopped");
  BOOST_TEST(catalog->job(queued_id)->state == "queued");
  BOOST_TEST(catalog->job(done_id)->state == "done");
  BOOST_TEST(catalog->queued_jobs().size() == 1u);
  // A second recovery finds nothing more to do.
  BOOST_TEST(catalog->recover(3'000'000, "again").failed_jobs.empty());
}

BOOST_AUTO_TEST_CASE(jobs_update_list_and_delete) {
  TempDir dir;
  auto catalog = open_catalog(dir);
  std::string error;
  JobRow job;
  job.type = "vod";
  job.recording_id = 7;
  job.stream = "cam";
  job.state = "queued";
  job.created_ms = 5;
  BOOST_TEST_REQUIRE(catalog->add_job(&job, &error), error);
  job.state = "done";
  job.progress = 1.0;
  job.output = "/data/jobs/1/vod";
  job.result = R"({"segments":3})";
  BOOST_TEST(catalog->update_job(job, &error));
  auto got = catalog->job(job.id);
  BOOST_TEST(got->state == "done");
  BOOST_TEST(got->progress == 1.0);
  BOOST_TEST(got->result == R"({"segments":3})");
  BOOST_TEST(catalog->jobs("done", 10).size() == 1u);
  BOOST_TEST(catalog->jobs("queued", 10).empty());
  BOOST_TEST(catalog->delete_job(job.id, &error));
  BOOST_TEST(!catalog->job(job.id).has_value());
}

BOOST_AUTO_TEST_CASE(unusable_catalog_file_is_refused_with_a_message) {
  TempDir dir;
  std::string error;
  // A directory where the file should be.
  fs::create_directory(dir.path / "catalog.sqlite");
  BOOST_TEST(!Catalog::open(dir.db(), &error));
  BOOST_TEST(error.find("catalog") != std::string::npos);
  fs::remove(dir.path / "catalog.sqlite");
  // Not a database at all.
  g_file_set_contents(dir.db().c_str(), "this is not sqlite, just text that is long enough", -1,
                      nullptr);
  error.clear();
  BOOST_TEST(!Catalog::open(dir.db(), &error));
  BOOST_TEST(!error.empty());
}

BOOST_AUTO_TEST_CASE(ids_and_times) {
  BOOST_TEST(parse_id("42").value() == 42);
  for (const char *bad : {"", "0", "-1", "01", "1e3", "abc", "12a", "9999999999999999999", " 1"}) {
    BOOST_TEST(!parse_id(bad).has_value(), bad);
  }
  BOOST_TEST(parse_time("1795000000").value() == 1'795'000'000'000);
  BOOST_TEST(parse_time("1795000000.5").value() == 1'795'000'000'500);
  BOOST_TEST(parse_time("2026-11-24T05:00:00Z").value() == 1'795'496'400'000);
  BOOST_TEST(format_time(1'795'496'400'250) == "2026-11-24T05:00:00.250Z");
  for (const char *bad : {"", "yesterday", "-5", "1e400", "2026-13-45T99:00:00Z"}) {
    BOOST_TEST(!parse_time(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(recording_filters) {
  auto ok = parse_recording_filter({{"stream", "cam"}, {"state", "finished"}, {"limit", "5"}});
  BOOST_TEST_REQUIRE(std::holds_alternative<RecordingFilter>(ok));
  BOOST_TEST(std::get<RecordingFilter>(ok).limit == 5);
  for (auto bad :
       std::vector<std::map<std::string, std::string>>{{{"state", "paused"}},
                                                       {{"from", "soon"}},
                                                       {{"limit", "0"}},
                                                       {{"limit", "100000"}},
                                                       {{"offset", "-1"}},
                                                       {{"from", "2000"}, {"to", "1000"}},
                                                       {{"colour", "red"}}}) {
    BOOST_TEST(std::holds_alternative<std::string>(parse_recording_filter(bad)));
  }
}

BOOST_AUTO_TEST_CASE(job_requests) {
  auto clip =
      parse_job_request(R"({"type":"clip","recording":3,"start":1.5,"end":4,"accurate":true})");
  BOOST_TEST_REQUIRE(std::holds_alternative<JobRequest>(clip));
  const auto &c = std::get<JobRequest>(clip);
  BOOST_TEST(c.type == "clip");
  BOOST_TEST(c.recording == 3);
  BOOST_TEST(c.start_ns == 1'500'000'000);
  BOOST_TEST(c.end_ns == 4'000'000'000);
  BOOST_TEST(c.accurate);
  auto vod = parse_job_request(R"({"type":"vod","recording":3})");
  BOOST_TEST_REQUIRE(std::holds_alternative<JobRequest>(vod));
  BOOST_TEST(std::get<JobRequest>(vod).end_ns == -1);
  for (const char *bad :
       {"", "[]", "{", "null", R"({"type":"gif","recording":1})", R"({"type":"clip"})",
        R"({"type":"clip","recording":0})", R"({"type":"clip","recording":"3"})",
        R"({"type":"clip","recording":1,"start":-1})",
        R"({"type":"clip","recording":1,"start":5,"end":2})",
        R"({"type":"clip","recording":1,"start":"a"})",
        R"({"type":"clip","recording":1,"end":1e300})",
        R"({"type":"clip","recording":1,"accurate":1})",
        R"({"type":"vod","recording":1,"start":2})",
        R"({"type":"clip","recording":1,"extra":true})"}) {
    auto r = parse_job_request(bad);
    BOOST_TEST(std::holds_alternative<std::string>(r), bad);
  }
  BOOST_TEST(std::get<std::string>(
                 parse_job_request(R"({"type":"clip","recording":1,"start":5,"end":2})")) ==
             "end must be after start");
}

BOOST_AUTO_TEST_CASE(rebroadcast_requests) {
  auto r = parse_job_request(R"({"type":"rebroadcast","recording":4,"stream":"again","start":2})");
  BOOST_TEST_REQUIRE(std::holds_alternative<JobRequest>(r));
  const auto &j = std::get<JobRequest>(r);
  BOOST_TEST(j.type == "rebroadcast");
  BOOST_TEST(j.stream == "again");
  BOOST_TEST(j.start_ns == 2'000'000'000);
  BOOST_TEST(j.end_ns == -1);
  for (const char *bad : {R"({"type":"rebroadcast","recording":4})",
                          R"({"type":"rebroadcast","recording":4,"stream":""})",
                          R"({"type":"rebroadcast","recording":4,"stream":"../x"})",
                          R"({"type":"rebroadcast","recording":4,"stream":".."})",
                          R"({"type":"rebroadcast","recording":4,"stream":7})",
                          R"({"type":"rebroadcast","recording":4,"stream":"a","accurate":true})",
                          R"({"type":"clip","recording":4,"stream":"a"})"}) {
    BOOST_TEST(std::holds_alternative<std::string>(parse_job_request(bad)), bad);
  }
  std::string long_name(65, 'a');
  BOOST_TEST(!valid_stream_name(long_name));
  BOOST_TEST(valid_stream_name(std::string(64, 'a')));
  BOOST_TEST(!valid_stream_name("a/b"));
  BOOST_TEST(!valid_stream_name(std::string("a\0b", 3)));
  JobRow job;
  job.id = 5;
  job.type = "rebroadcast";
  job.state = "done";
  job.output = "again";
  job.result = R"({"duration":6.5})";
  std::string text = livepipe::json::to_string(job_json(job).get());
  BOOST_TEST(text.find(R"("target":"again","whep":"/whep/again")") != std::string::npos, text);
  BOOST_TEST(text.find(R"("result":{"duration":6.5})") != std::string::npos, text);
  BOOST_TEST(text.find(R"("output")") == std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(instant_replay_bodies) {
  BOOST_TEST(std::get<double>(parse_instant_replay(R"({"seconds": 5})", 600)) == 5.0);
  for (const char *bad : {"", "{}", R"({"seconds":0})", R"({"seconds":601})", R"({"seconds":"5"})",
                          R"({"seconds":5,"x":1})"}) {
    BOOST_TEST(std::holds_alternative<std::string>(parse_instant_replay(bad, 600)), bad);
  }
}

BOOST_AUTO_TEST_CASE(replies) {
  RecordingRow r;
  r.id = 3;
  r.stream = "cam";
  r.state = "recording";
  r.started_ms = 1'795'496'400'000;
  r.segments.push_back(segment(0, 0, 2, 10, true));
  std::string text = livepipe::json::to_string(recording_json(r, true).get());
  BOOST_TEST(text.find(R"("endedAt":null)") != std::string::npos, text);
  BOOST_TEST(text.find(R"("segments":[{"index":0)") != std::string::npos, text);
  JobRow j;
  j.id = 9;
  j.type = "clip";
  j.state = "done";
  j.output = "/d/jobs/9/clip.mp4";
  j.result = R"({"duration":2.5})";
  text = livepipe::json::to_string(job_json(j).get());
  BOOST_TEST(text.find(R"("url":"/api/v1/jobs/9/output")") != std::string::npos, text);
  BOOST_TEST(text.find(R"("result":{"duration":2.5})") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(recording_settings_in_the_config) {
  using livepipe::signaling::Config;
  auto loaded = livepipe::signaling::parse_config(
      R"({"recording": {"dir": "/var/lib/livepipe", "streams": ["cam-*", "door"],
          "segmentSeconds": 10, "fragmentMs": 250, "format": "mkv", "maxConcurrentJobs": 3,
          "maxInstantReplaySeconds": 60}})");
  BOOST_TEST_REQUIRE(std::holds_alternative<Config>(loaded));
  const auto &r = std::get<Config>(loaded).recording;
  BOOST_TEST(r.enabled());
  BOOST_TEST(r.segment_seconds == 10);
  BOOST_TEST(r.fragment_ms == 250);
  BOOST_TEST(r.format == "mkv");
  BOOST_TEST(r.max_concurrent_jobs == 3);
  BOOST_TEST(r.max_instant_replay_seconds == 60);
  BOOST_TEST(r.records_from_start("cam-1"));
  BOOST_TEST(r.records_from_start("door"));
  BOOST_TEST(!r.records_from_start("doors"));
  BOOST_TEST(!std::get<Config>(livepipe::signaling::parse_config("{}")).recording.enabled());

  auto bad = livepipe::signaling::parse_config(
      R"({"recording": {"streams": ["cam"], "format": "avi", "segmentSeconds": 0,
          "maxConcurrentJobs": 1000, "dir": "", "colour": 1}})");
  BOOST_TEST_REQUIRE(std::holds_alternative<std::vector<std::string>>(bad));
  std::string all;
  for (const auto &p : std::get<std::vector<std::string>>(bad)) {
    all += p + "\n";
  }
  for (const char *want :
       {"$.recording.colour: unknown setting", "$.recording.format: must be \"mp4\" or \"mkv\"",
        "$.recording.segmentSeconds: must be an integer", "$.recording.maxConcurrentJobs",
        "$.recording.dir: must be a non-empty string",
        "$.recording.streams: needs recording.dir"}) {
    BOOST_TEST(all.find(want) != std::string::npos, want << " in\n" << all);
  }
}
