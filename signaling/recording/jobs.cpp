#include "jobs.h"

#include "clip.h"
#include "hls.h"
#include "util/json.h"
#include "util/maincontext.h"

#include <filesystem>

namespace livepipe::signaling::recording {
namespace {

JobOutcome execute(const JobWork &work, std::atomic<double> &progress,
                   const std::atomic<bool> &cancel) {
  JobOutcome out;
  out.start_ns = work.job.start_ns;
  out.end_ns = work.job.end_ns;
  auto recording = replay::load_recording(work.recording_dir, &out.error);
  if (!recording) {
    return out;
  }
  auto on_progress = [&progress](double fraction) { progress = fraction; };
  auto cancelled = [&cancel] { return cancel.load(); };
  if (work.job.type == "clip") {
    replay::ClipOptions options;
    options.start_ns = static_cast<uint64_t>(work.job.start_ns);
    options.end_ns = work.job.end_ns < 0 ? UINT64_MAX : static_cast<uint64_t>(work.job.end_ns);
    options.accurate = work.job.accurate;
    options.output = work.output;
    options.progress = on_progress;
    options.cancelled = cancelled;
    replay::ClipResult result;
    out.ok = replay::clip_recording(*recording, options, &result, &out.error);
    if (out.ok) {
      out.result = json::ObjectBuilder()
                       .set("start", static_cast<double>(result.start_ns) / 1e9)
                       .set("duration", static_cast<double>(result.duration_ns) / 1e9)
                       .set("videoFrames", static_cast<int64_t>(result.video_frames))
                       .set("audioPackets", static_cast<int64_t>(result.audio_packets))
                       .to_string();
    }
  } else {
    replay::HlsOptions options;
    options.directory = work.output;
    options.progress = on_progress;
    options.cancelled = cancelled;
    replay::HlsResult result;
    out.ok = replay::make_hls(*recording, options, &result, &out.error);
    if (out.ok) {
      out.result =
          json::ObjectBuilder()
              .set("playlist", std::filesystem::path(result.playlist_path).filename().string())
              .set("segments", static_cast<int64_t>(result.media_segments))
              .set("duration", result.duration_seconds)
              .to_string();
    }
  }
  out.cancelled = !out.ok && cancel.load();
  return out;
}

}  // namespace

JobRunner::JobRunner(Done done) : done_(std::move(done)) {}

JobRunner::~JobRunner() {
  *alive_ = false;
  for (auto &[id, job] : jobs_) {
    *job.cancel = true;
  }
  for (auto &[id, job] : jobs_) {
    if (job.thread.joinable()) {
      job.thread.join();
    }
  }
}

void JobRunner::run(JobWork work) {
  Running running;
  running.progress = std::make_shared<std::atomic<double>>(0.0);
  running.cancel = std::make_shared<std::atomic<bool>>(false);
  int64_t id = work.job.id;
  GMainContext *context = g_main_context_ref_thread_default();
  std::weak_ptr<bool> weak = alive_;
  running.thread = std::thread([this, work = std::move(work), progress = running.progress,
                                cancel = running.cancel, context, weak, id] {
    JobOutcome outcome = execute(work, *progress, *cancel);
    post_to(context, [this, weak, id, outcome] {
      if (!weak.lock()) {
        return;
      }
      auto it = jobs_.find(id);
      if (it != jobs_.end()) {
        it->second.thread.join();
        jobs_.erase(it);
      }
      done_(id, outcome);
    });
    g_main_context_unref(context);
  });
  jobs_[id] = std::move(running);
}

std::optional<double> JobRunner::progress(int64_t id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  return it->second.progress->load();
}

bool JobRunner::cancel(int64_t id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return false;
  }
  *it->second.cancel = true;
  return true;
}

}  // namespace livepipe::signaling::recording
