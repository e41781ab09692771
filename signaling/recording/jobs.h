// Runs replay jobs (clips, HLS video on demand) with the replay library on
// worker threads, at most `concurrency` at a time. Progress is read and
// cancellation requested from the main context; each job's end is reported
// there.
#pragma once

#include "recording_catalog.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace livepipe::signaling::recording {

struct JobWork {
  JobRow job;
  std::string recording_dir;  // the directory holding the recording's manifest
  std::string output;         // clip: the MP4 file; vod: the directory
};

struct JobOutcome {
  bool ok = false;
  bool cancelled = false;
  std::string error;
  std::string result;    // JSON object
  int64_t start_ns = 0;  // clips: where the clip really starts
  int64_t end_ns = -1;
};

class JobRunner {
 public:
  using Done = std::function<void(int64_t id, const JobOutcome &outcome)>;
  explicit JobRunner(Done done);
  // Cancels every running job and waits for their threads.
  ~JobRunner();
  JobRunner(const JobRunner &) = delete;
  JobRunner &operator=(const JobRunner &) = delete;

  void run(JobWork work);
  size_t running() const { return jobs_.size(); }
  bool is_running(int64_t id) const { return jobs_.count(id) != 0; }
  std::optional<double> progress(int64_t id) const;
  // Asks a running job to stop; its Done reports cancelled.
  bool cancel(int64_t id);

 private:
  struct Running {
    std::thread thread;
    std::shared_ptr<std::atomic<double>> progress;
    std::shared_ptr<std::atomic<bool>> cancel;
  };
  Done done_;
  std::map<int64_t, Running> jobs_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace livepipe::signaling::recording
