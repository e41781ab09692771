// Time from a description file to a PLAYING pipeline, against
// gst-launch-1.0's way with the equivalent launch line (gst_parse_launch),
// measured alternately in one process on the same machine; then the same
// comparison for whole processes: `livepipe launch -f` against
// `gst-launch-1.0`. Prints medians and the ratio (target: <= 1.1).
//
//   bench_describe_to_playing [--iterations N] [--process-iterations N]
#include "loader.h"
#include "util/gstptr.h"

#include <gst/gst.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using livepipe::GstPtr;
using Clock = std::chrono::steady_clock;

struct Case {
  std::string name;
  fs::path description;
  std::map<std::string, std::string> params;
  fs::path launch;  // the equivalent gst-launch-1.0 line
};

std::string read_launch_line(const fs::path &file, const std::string &out) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string line = text.str();
  std::replace(line.begin(), line.end(), '\n', ' ');
  for (size_t at; (at = line.find("@OUT@")) != std::string::npos;) {
    line.replace(at, 5, out);
  }
  return line;
}

// Waits for the state change to PLAYING to complete; false on failure.
bool reach_playing(GstElement *pipeline) {
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    return false;
  }
  GstState state;
  return gst_element_get_state(pipeline, &state, nullptr, 10 * GST_SECOND) !=
             GST_STATE_CHANGE_FAILURE &&
         state == GST_STATE_PLAYING;
}

int count_elements(GstElement *pipeline) {
  int count = 0;
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    ++count;
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return count;
}

double time_description(const Case &c, int *elements) {
  livepipe::pipelines::Loader loader({fs::path(LIVEPIPE_SOURCE_DIR) / "pipelines" / "presets"});
  auto start = Clock::now();
  auto result = loader.load_file(c.description, {.params = c.params});
  if (!result.ok() || !reach_playing(result.pipeline->element())) {
    std::fprintf(stderr, "%s: the description did not reach PLAYING\n", c.name.c_str());
    std::exit(1);
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  *elements = count_elements(result.pipeline->element());
  gst_element_set_state(result.pipeline->element(), GST_STATE_NULL);
  return ms;
}

double time_launch_line(const Case &c, const std::string &out, int *elements) {
  auto start = Clock::now();
  // Reading the file is part of gst-launch's work too (its arguments).
  std::string line = read_launch_line(c.launch, out);
  GError *error = nullptr;
  GstPtr<GstElement> pipeline = livepipe::sink(gst_parse_launch(line.c_str(), &error));
  if (!pipeline || error || !reach_playing(pipeline.get())) {
    std::fprintf(stderr, "%s: the launch line did not reach PLAYING: %s\n", c.name.c_str(),
                 error ? error->message : "");
    std::exit(1);
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  *elements = count_elements(pipeline.get());
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double run_process(std::vector<std::string> args) {
  std::vector<char *> argv;
  for (auto &arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  auto start = Clock::now();
  gint status = 0;
  GError *error = nullptr;
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr, nullptr,
                    nullptr, &status, &error) ||
      !g_spawn_check_wait_status(status, nullptr)) {
    std::fprintf(stderr, "%s failed: %s\n", args[0].c_str(), error ? error->message : "");
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<std::string> split_words(const std::string &line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    words.push_back(word);
  }
  return words;
}

}  // namespace

int main(int argc, char **argv) {
  int iterations = 30;
  int process_iterations = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--iterations")) {
      iterations = std::max(1, std::atoi(argv[i + 1]));
    } else if (!std::strcmp(argv[i], "--process-iterations")) {
      process_iterations = std::max(0, std::atoi(argv[i + 1]));
    }
  }
  // The plugin from the build tree; a private registry so a stale user cache
  // cannot make one side pay for a rescan.
  fs::path build(LIVEPIPE_BUILD_DIR);
  setenv("GST_PLUGIN_PATH", (build / "elements").c_str(), 1);
  setenv("GST_REGISTRY_1_0", (build / "bench" / "registry.bin").c_str(), 1);
  gst_init(&argc, &argv);

  fs::path source(LIVEPIPE_SOURCE_DIR);
  fs::path out = fs::temp_directory_path() / "livepipe-bench.mp4";
  const std::vector<Case> cases = {
      {"beauty-fakesink",
       source / "bench/pipelines/beauty-fakesink.json",
       {},
       source / "bench/pipelines/beauty-fakesink.launch"},
      {"testsrc-beauty-file",
       source / "pipelines/presets/testsrc-beauty-file.json",
       {{"location", out.string()}, {"num-buffers", "1"}},
       source / "bench/pipelines/testsrc-beauty-file.launch"},
      {"webrtc-publish-fanout",
       source / "pipelines/presets/webrtc-publish-fanout.json",
       {},
       source / "bench/pipelines/webrtc-publish-fanout.launch"},
  };

  std::printf("In one process, alternating, %d runs each after 3 warm-up runs:\n", iterations);
  std::printf("%-24s %9s %23s %23s %15s\n", "pipeline", "elements", "description (ms)",
              "gst_parse_launch (ms)", "ratio");
  std::printf("%-24s %9s %7s %7s %7s %7s %7s %7s %7s %7s\n", "", "", "median", "min", "p90",
              "median", "min", "p90", "median", "min");
  double worst = 0;
  for (const auto &c : cases) {
    std::vector<double> described, launched;
    int described_elements = 0, launched_elements = 0;
    for (int i = 0; i < 3 + iterations; ++i) {
      // Which side goes first alternates, so neither always inherits the
      // other's warm (or cold) caches.
      double a, b;
      if (i % 2) {
        a = time_description(c, &described_elements);
        b = time_launch_line(c, out.string(), &launched_elements);
      } else {
        b = time_launch_line(c, out.string(), &launched_elements);
        a = time_description(c, &described_elements);
      }
      if (i >= 3) {
        described.push_back(a);
        launched.push_back(b);
      }
    }
    double ratio = median(described) / median(launched);
    double best_ratio = percentile(described, 0) / percentile(launched, 0);
    worst = std::max(worst, ratio);
    std::printf("%-24s %4d/%-4d %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f\n", c.name.c_str(),
                described_elements, launched_elements, median(described), percentile(described, 0),
                percentile(described, 0.9), median(launched), percentile(launched, 0),
                percentile(launched, 0.9), ratio, best_ratio);
  }
  std::printf("worst ratio of medians %.2f (target <= 1.10)\n", worst);

  if (process_iterations > 0) {
    std::printf(
        "\nWhole processes, alternating, %d runs each (start, build, PLAYING, EOS, exit):\n",
        process_iterations);
    std::printf("%-24s %22s %22s %7s\n", "pipeline", "livepipe launch -f (ms)",
                "gst-launch-1.0 (ms)", "ratio");
    for (const auto &c : cases) {
      if (c.name == "webrtc-publish-fanout") {
        continue;  // has no end of stream to run to
      }
      std::vector<std::string> ours = {LIVEPIPE_CLI, "launch", "-q", "-f", c.description.string()};
      for (const auto &[name, value] : c.params) {
        ours.push_back("-p");
        ours.push_back(name + "=" + value);
      }
      std::vector<std::string> theirs = {"gst-launch-1.0", "-q"};
      for (auto &word : split_words(read_launch_line(c.launch, out.string()))) {
        theirs.push_back(word);
      }
      std::vector<double> a, b;
      run_process(ours);
      run_process(theirs);
      for (int i = 0; i < process_iterations; ++i) {
        a.push_back(run_process(ours));
        b.push_back(run_process(theirs));
      }
      std::printf("%-24s %22.1f %22.1f %7.2f\n", c.name.c_str(), median(a), median(b),
                  median(a) / median(b));
    }
  }
  fs::remove(out);
  return 0;
}
