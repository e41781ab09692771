// Helpers for the description tests: the source tree's presets, loading text,
// finding problems, running a pipeline to its end.
#pragma once

#include "loader.h"
#include "util/gstptr.h"

#include <boost/test/unit_test.hpp>
#include <gst/gst.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace livepipe::testing {

inline std::filesystem::path source_dir() {
  const char *dir = std::getenv("LIVEPIPE_SOURCE_DIR");
  return dir ? dir : ".";
}

inline std::filesystem::path presets_dir() {
  return source_dir() / "pipelines" / "presets";
}

// A fresh directory under the build tree's tests folder, removed at the end.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/livepipe-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path &path() const { return path_; }
  std::filesystem::path write(const std::string &name, const std::string &text) const {
    std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

inline pipelines::LoadResult load_text(const std::string &text,
                                       pipelines::LoadOptions options = {}) {
  pipelines::Loader loader({presets_dir()});
  return loader.load_text(text, "test.json", options);
}

inline std::string all_problems(const pipelines::LoadResult &result) {
  std::string out;
  for (const auto &problem : result.problems) {
    out += problem.to_string() + "\n";
  }
  return out;
}

// The first problem whose message contains `needle`, or null.
inline const pipelines::Problem *find_problem(const pipelines::LoadResult &result,
                                              std::string_view needle) {
  for (const auto &problem : result.problems) {
    if (problem.message.find(needle) != std::string::npos) {
      return &problem;
    }
  }
  return nullptr;
}

// Checks that a problem mentioning `needle` was reported at `path` (and at
// line:column when given).
inline void expect_problem(const pipelines::LoadResult &result, std::string_view needle,
                           std::string_view path, int line = 0, int column = 0) {
  const pipelines::Problem *problem = find_problem(result, needle);
  BOOST_TEST_INFO("problems:\n" << all_problems(result));
  BOOST_REQUIRE_MESSAGE(problem, "no problem mentions '" << needle << "'");
  BOOST_TEST(problem->path == path);
  if (line) {
    BOOST_TEST(problem->line == line);
    BOOST_TEST(problem->column == column);
  }
}

// Plays `pipeline` until EOS or an error; returns the error text, "" at EOS,
// "timeout" when neither comes within `seconds`.
inline std::string run_to_end(GstElement *pipeline, int seconds = 60) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline));
  MiniPtr<GstMessage> message(
      gst_bus_timed_pop_filtered(bus.get(), static_cast<GstClockTime>(seconds) * GST_SECOND,
                                 GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
  std::string out;
  if (!message) {
    out = "timeout";
  } else if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_ERROR) {
    GError *error = nullptr;
    gst_message_parse_error(message.get(), &error, nullptr);
    out = std::string("error: ") + (error ? error->message : "?");
    g_clear_error(&error);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return out;
}

// Frames ffprobe counts in the first video stream of `file` (-1 if it fails).
inline int ffprobe_frames(const std::filesystem::path &file) {
  std::string command =
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=nb_read_frames -of csv=p=0 '" +
      file.string() + "' 2>/dev/null";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    return -1;
  }
  char line[64] = {};
  bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  int status = pclose(pipe);
  return read && status == 0 ? std::atoi(line) : -1;
}

// Iterates the default main context until `done()` or `seconds` pass.
template <typename Done>
bool iterate_until(Done done, int seconds = 10) {
  gint64 deadline = g_get_monotonic_time() + static_cast<gint64>(seconds) * G_USEC_PER_SEC;
  while (!done()) {
    if (g_get_monotonic_time() > deadline) {
      return false;
    }
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
  return true;
}

}  // namespace livepipe::testing
