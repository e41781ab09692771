// The service's job runner on a real recording (made by the record job):
// a clip and a VOD run on worker threads and report to the main context; a
// running job is cancelled. No sockets.
#define BOOST_TEST_MODULE jobs
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "clip.h"
#include "jobs.h"
#include "record_job.h"
#include "recording.h"

#include <glib.h>

#include <filesystem>
#include <map>

using namespace livepipe::signaling::recording;
namespace fs = std::filesystem;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

struct Recorded {
  fs::path dir;
  explicit Recorded(const std::string &format = "mp4") {
    char *tmp = g_dir_make_tmp("jobs-XXXXXX", nullptr);
    dir = tmp;
    g_free(tmp);
    livepipe::replay::RecordOptions options;
    options.root = dir.string();
    options.stream = "cam";
    options.format = format;
    options.location = "{stream}/seg-%05d." + format;
    options.segment_duration_ns = 2'000'000'000ull;
    options.duration_ns = 4'000'000'000ull;
    int code = livepipe::replay::run_record(options, [](const livepipe::replay::RecordEvent &) {});
    BOOST_TEST_REQUIRE(code == 0);
  }
  ~Recorded() { fs::remove_all(dir); }
};

// Runs the main context until `done` or 60 s.
void iterate_until(const std::function<bool()> &done) {
  gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  while (!done() && g_get_monotonic_time() < end) {
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
}

JobWork work(int64_t id, const std::string &type, const Recorded &rec, bool accurate = false) {
  JobWork w;
  w.job.id = id;
  w.job.type = type;
  w.job.start_ns = 500'000'000;
  w.job.end_ns = type == "clip" ? 3'000'000'000 : -1;
  w.job.accurate = accurate;
  w.recording_dir = (rec.dir / "cam").string();
  w.output = (rec.dir / (type == "clip" ? "clip" + std::to_string(id) + ".mp4" : "vod")).string();
  return w;
}

}  // namespace

BOOST_AUTO_TEST_CASE(clip_and_vod_report_on_the_main_context) {
  Recorded rec;
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  runner.run(work(1, "clip", rec));
  runner.run(work(2, "vod", rec));
  BOOST_TEST(runner.running() == 2u);
  BOOST_TEST(runner.progress(1).has_value());
  iterate_until([&] { return outcomes.size() == 2; });
  BOOST_TEST_REQUIRE(outcomes.size() == 2u);
  BOOST_TEST(outcomes[1].ok, outcomes[1].error);
  BOOST_TEST(outcomes[2].ok, outcomes[2].error);
  BOOST_TEST(outcomes[1].result.find("\"videoFrames\"") != std::string::npos);
  BOOST_TEST(outcomes[2].result.find("\"playlist\":\"index.m3u8\"") != std::string::npos);
  BOOST_TEST(fs::file_size(rec.dir / "clip1.mp4") > 10000u);
  BOOST_TEST(fs::exists(rec.dir / "vod" / "index.m3u8"));
  BOOST_TEST(runner.running() == 0u);
  BOOST_TEST(!runner.progress(1).has_value());
}

BOOST_AUTO_TEST_CASE(a_running_job_is_cancelled) {
  Recorded rec;
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  // An accurate clip re-encodes: long enough to be cancelled while it runs.
  runner.run(work(7, "clip", rec, true));
  BOOST_TEST(runner.cancel(7));
  BOOST_TEST(!runner.cancel(8));
  iterate_until([&] { return outcomes.count(7) != 0; });
  BOOST_TEST_REQUIRE(outcomes.count(7) == 1u);
  BOOST_TEST(!outcomes[7].ok);
  BOOST_TEST(outcomes[7].cancelled);
  BOOST_TEST(outcomes[7].error == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_missing_recording_fails_with_a_reason) {
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  JobWork w;
  w.job.id = 3;
  w.job.type = "vod";
  w.recording_dir = "/nonexistent/recording";
  w.output = "/nonexistent/out";
  runner.run(w);
  iterate_until([&] { return outcomes.count(3) != 0; });
  BOOST_TEST_REQUIRE(outcomes.count(3) == 1u);
  BOOST_TEST(!outcomes[3].ok);
  BOOST_TEST(!outcomes[3].cancelled);
  BOOST_TEST(outcomes[3].error.find("manifest") != std::string::npos, outcomes[3].error);
}

// Matroska segments keep the recorder's timestamps (the second starts at 2 s,
// not 0): a clip across two of them still covers the range asked for.
BOOST_AUTO_TEST_CASE(clip_across_matroska_segments) {
  Recorded rec("mkv");
  std::string error;
  auto recording = livepipe::replay::load_recording((rec.dir / "cam").string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  BOOST_TEST(recording->manifest.format == "mkv");
  BOOST_TEST_REQUIRE(recording->manifest.segments.size() >= 2u);
  livepipe::replay::ClipOptions options;
  options.start_ns = 500'000'000;
  options.end_ns = 3'000'000'000;
  options.output = (rec.dir / "clip.mp4").string();
  livepipe::replay::ClipResult result;
  BOOST_TEST_REQUIRE(livepipe::replay::clip_recording(*recording, options, &result, &error), error);
  // Keyframes every 0.5 s: it starts at or before 0.5 s and ends before 3 s.
  BOOST_TEST(result.start_ns <= 500'000'000u);
  BOOST_TEST(result.duration_ns >= 2'400'000'000u);
  BOOST_TEST(result.duration_ns <= 3'050'000'000u);
  BOOST_TEST(result.video_frames >= 70u);
}
