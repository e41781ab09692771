// How many concurrent 2 Mb/s recordings one core sustains in real time:
// lprecordbin pipelines in this process against `ffmpeg -re -c copy`
// processes writing fragmented MP4, both fed from the same H.264+AAC file.
//
// Run it pinned to one core (the ffmpeg processes inherit the affinity):
//   taskset -c 1 build/bench/bench_record [--seconds S] [--max N] [--dir DIR]
// A contestant's fixed cost (process start, probing) is its time with N=1;
// a trial with N instances passes when every instance ends within that
// time + 5 % of S + 0.5 s of its own start and, for lprecordbin, every
// manifest is finished and holds the input's whole duration (nothing dropped).
#include <gst/gst.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

extern char **environ;

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Trial {
  bool passed = false;
  double worst_s = 0;  // slowest instance, start to end
  std::string why;
};

int run_command(const std::string &command) {
  return std::system(command.c_str());
}

// 720p30 H.264 at 2 Mb/s (keyframe every second) + AAC 128 kb/s.
bool make_input(const fs::path &file, int seconds) {
  std::string command =
      "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i "
      "sine=frequency=440:sample_rate=48000 -t " +
      std::to_string(seconds) +
      " -c:v libx264 -preset veryfast -b:v 1900k -maxrate 2000k -bufsize 2000k -g 30 "
      "-pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart '" +
      file.string() + "'";
  return run_command(command) == 0;
}

uint64_t manifest_duration_ns(const fs::path &manifest, bool *finished) {
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  *finished = s.find("\"state\" : \"finished\"") != std::string::npos;
  size_t key = s.find("\"duration_ns\" : ");
  return key == std::string::npos ? 0 : std::strtoull(s.c_str() + key + 16, nullptr, 10);
}

struct Recorder {
  GstElement *pipeline = nullptr;
  Clock::time_point started;
  double elapsed_s = -1;
  std::string error;
};

gboolean on_bus(GstBus *, GstMessage *message, gpointer data) {
  auto *recorder = static_cast<Recorder *>(data);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS && recorder->elapsed_s < 0) {
    recorder->elapsed_s = seconds_since(recorder->started);
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR && recorder->error.empty()) {
    GError *error = nullptr;
    gst_message_parse_error(message, &error, nullptr);
    recorder->error = error ? error->message : "error";
    g_clear_error(&error);
    recorder->elapsed_s = seconds_since(recorder->started);
  }
  return G_SOURCE_CONTINUE;
}

gboolean keep_waking(gpointer) {
  return G_SOURCE_CONTINUE;
}

Trial trial_livepipe(const fs::path &input, const fs::path &dir, int count, int seconds) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<Recorder> recorders(static_cast<size_t>(count));
  std::vector<guint> watches;
  Trial trial;
  for (int i = 0; i < count; ++i) {
    Recorder &r = recorders[static_cast<size_t>(i)];
    r.started = Clock::now();
    // clocksync paces each stream at its timestamps, as `ffmpeg -re` does.
    std::string description =
        "filesrc location=" + input.string() +
        " ! qtdemux name=d d.video_0 ! queue ! h264parse ! clocksync ! r.video "
        "d.audio_0 ! queue ! aacparse ! clocksync ! r.audio_0 "
        "lprecordbin name=r root=" +
        dir.string() + " stream=s" + std::to_string(i) +
        " location={stream}/seg-%05d.mp4 max-size-time=10000000000";
    GError *error = nullptr;
    r.pipeline = gst_parse_launch(description.c_str(), &error);
    if (!r.pipeline || error) {
      trial.why = std::string("cannot build a pipeline: ") + (error ? error->message : "?");
      g_clear_error(&error);
      return trial;
    }
    GstBus *bus = gst_element_get_bus(r.pipeline);
    watches.push_back(gst_bus_add_watch(bus, on_bus, &r));
    gst_object_unref(bus);
    gst_element_set_state(r.pipeline, GST_STATE_PLAYING);
  }
  // Wakes the loop so the deadline is seen even when no message arrives.
  guint tick = g_timeout_add(200, keep_waking, nullptr);
  auto deadline = Clock::now() + std::chrono::seconds(seconds * 3 + 30);
  while (Clock::now() < deadline) {
    g_main_context_iteration(nullptr, TRUE);
    bool done = std::all_of(recorders.begin(), recorders.end(),
                            [](const Recorder &r) { return r.elapsed_s >= 0; });
    if (done) {
      break;
    }
  }
  g_source_remove(tick);
  for (size_t i = 0; i < recorders.size(); ++i) {
    Recorder &r = recorders[i];
    gst_element_set_state(r.pipeline, GST_STATE_NULL);
    g_source_remove(watches[i]);
    gst_object_unref(r.pipeline);
    trial.worst_s = std::max(trial.worst_s, r.elapsed_s < 0 ? 1e9 : r.elapsed_s);
    if (!r.error.empty() && trial.why.empty()) {
      trial.why = "recording " + std::to_string(i) + ": " + r.error;
    }
    bool finished = false;
    uint64_t recorded =
        manifest_duration_ns(dir / ("s" + std::to_string(i)) / "manifest.json", &finished);
    // The last video frame's duration is the only slack: 1/30 s.
    if (trial.why.empty() && (!finished || recorded + 40'000'000ull < seconds * 1'000'000'000ull)) {
      trial.why = "recording " + std::to_string(i) + " holds " + std::to_string(recorded / 1e9) +
                  " s" + (finished ? "" : " and is not finished");
    }
  }
  fs::remove_all(dir);
  trial.passed = trial.why.empty();
  return trial;
}

Trial trial_ffmpeg(const fs::path &input, const fs::path &dir, int count) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  Trial trial;
  std::vector<pid_t> pids;
  std::vector<Clock::time_point> started;
  for (int i = 0; i < count; ++i) {
    std::string out = (dir / ("out" + std::to_string(i) + ".mp4")).string();
    std::vector<std::string> args = {"ffmpeg",
                                     "-nostdin",
                                     "-v",
                                     "error",
                                     "-re",
                                     "-i",
                                     input.string(),
                                     "-c",
                                     "copy",
                                     "-f",
                                     "mp4",
                                     "-movflags",
                                     "frag_keyframe+empty_moov",
                                     out};
    std::vector<char *> argv;
    for (auto &a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    started.push_back(Clock::now());
    if (posix_spawnp(&pid, "ffmpeg", nullptr, nullptr, argv.data(), environ) != 0) {
      trial.why = "cannot start ffmpeg";
      break;
    }
    pids.push_back(pid);
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    double elapsed = seconds_since(started[i]);
    trial.worst_s = std::max(trial.worst_s, elapsed);
    if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) && trial.why.empty()) {
      trial.why = "ffmpeg " + std::to_string(i) + " failed";
    }
  }
  // ffmpeg's exit after -re over the whole input is its proof of real time;
  // the files are only checked to exist with data.
  for (int i = 0; i < count && trial.why.empty(); ++i) {
    fs::path out = dir / ("out" + std::to_string(i) + ".mp4");
    if (!fs::exists(out) || fs::file_size(out) < 1000) {
      trial.why = "ffmpeg " + std::to_string(i) + " wrote nothing";
    }
  }
  fs::remove_all(dir);
  trial.passed = trial.why.empty();
  return trial;
}

// Doubles N until a trial fails, then bisects to ~5 %; returns the largest
// passing N (capped at `max`).
int find_capacity(const char *name, int max, int seconds, const std::function<Trial(int)> &run) {
  double limit = 0;
  auto judged = [&](int n) {
    Trial t = run(n);
    if (n == 1 && t.passed) {
      limit = t.worst_s + 0.05 * seconds + 0.5;
    } else if (t.passed && t.worst_s > limit) {
      t.passed = false;
      t.why = "fell behind real time";
    }
    return t;
  };
  int good = 0;
  int bad = max + 1;
  int n = 1;
  while (n <= max) {
    Trial t = judged(n);
    std::printf("  %-10s N=%-4d worst %6.2f s  %s%s\n", name, n, t.worst_s,
                t.passed ? "ok" : "FAIL: ", t.passed ? "" : t.why.c_str());
    std::fflush(stdout);
    if (!t.passed) {
      bad = n;
      break;
    }
    good = n;
    if (n == max) {
      break;
    }
    n = std::min(max, n * 2);
  }
  while (bad <= max && bad - good > std::max(1, good / 20)) {
    int mid = (good + bad) / 2;
    Trial t = judged(mid);
    std::printf("  %-10s N=%-4d worst %6.2f s  %s%s\n", name, mid, t.worst_s,
                t.passed ? "ok" : "FAIL: ", t.passed ? "" : t.why.c_str());
    std::fflush(stdout);
    (t.passed ? good : bad) = mid;
  }
  return good;
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  int seconds = 10;
  int max = 400;
  fs::path dir = "/dev/shm/livepipe-bench-record";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--seconds") {
      seconds = std::max(2, std::atoi(argv[i + 1]));
    } else if (arg == "--max") {
      max = std::max(1, std::atoi(argv[i + 1]));
    } else if (arg == "--dir") {
      dir = argv[i + 1];
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::printf("cores available to this run: %d%s\n", CPU_COUNT(&set),
              CPU_COUNT(&set) == 1 ? "" : " (run under `taskset -c 1` to measure one core)");
  if (!gst_element_factory_find("lprecordbin")) {
    std::fprintf(stderr, "lprecordbin not found: set GST_PLUGIN_PATH=build/elements\n");
    return 1;
  }
  fs::create_directories(dir);
  fs::path input = dir / "input.mp4";
  if (!make_input(input, seconds)) {
    std::fprintf(stderr, "cannot encode the input with ffmpeg\n");
    return 1;
  }
  std::printf("input: %d s of 1280x720 30 fps H.264 ~2 Mb/s + AAC 128 kb/s (%.1f MB)\n", seconds,
              static_cast<double>(fs::file_size(input)) / 1e6);
  std::printf("a trial passes when every instance ends within its N=1 time + %.2f s\n",
              0.05 * seconds + 0.5);

  int ours = find_capacity("lprecord", max, seconds,
                           [&](int n) { return trial_livepipe(input, dir / "out", n, seconds); });
  int theirs = find_capacity("ffmpeg", max, seconds,
                             [&](int n) { return trial_ffmpeg(input, dir / "out", n); });
  fs::remove_all(dir);
  std::printf("\nconcurrent real-time recordings on one core\n");
  std::printf("%-36s %6s\n", "contestant", "N");
  std::printf("%-36s %6d\n", "lprecordbin (one process)", ours);
  std::printf("%-36s %6d\n", "ffmpeg -re -c copy (one process each)", theirs);
  std::printf("ratio lprecordbin/ffmpeg: %.2f\n", theirs ? double(ours) / theirs : 0.0);
  return 0;
}
