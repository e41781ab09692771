// lpbeauty against named peers on the same raw 1080p I420 frames, in one run:
//   identity                 the I/O floor (filesrc -> rawvideoparse -> fakesink)
//   lpbeauty n-threads=1/2   ours
//   smooth                   GStreamer's smooth element (gst-plugins-bad)
//   ffmpeg bilateral         ffmpeg's bilateral filter, one thread
// Every contestant reads the same file from /dev/shm; fps = frames / wall time
// from PLAYING to EOS (GStreamer) or of the whole process (ffmpeg).
#include "beautycore.h"
#include "support/synthetic.h"

#include <gst/gst.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern char **environ;

namespace {

struct Result {
  std::string name;
  int frames = 0;
  double seconds = 0;
  double fps() const { return seconds > 0 ? frames / seconds : 0; }
};

std::string raw_source(const std::string &path, int width, int height, int frames) {
  const long frame_size = static_cast<long>(width) * height * 3 / 2;
  return "filesrc location=" + path + " blocksize=" + std::to_string(frame_size) +
         " num-buffers=" + std::to_string(frames) +
         " ! rawvideoparse use-sink-caps=false format=i420 framerate=30/1 width=" +
         std::to_string(width) + " height=" + std::to_string(height);
}

Result time_gst(const std::string &name, const std::string &launch, int frames) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(launch.c_str(), &error);
  if (!pipeline || error) {
    std::fprintf(stderr, "bench: %s: %s\n", name.c_str(), error ? error->message : "failed");
    std::exit(1);
  }
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  gst_element_get_state(pipeline, nullptr, nullptr, GST_CLOCK_TIME_NONE);
  const auto start = std::chrono::steady_clock::now();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, 600 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  const auto end = std::chrono::steady_clock::now();
  if (!message || GST_MESSAGE_TYPE(message) != GST_MESSAGE_EOS) {
    std::fprintf(stderr, "bench: %s did not reach EOS\n", name.c_str());
    std::exit(1);
  }
  gst_message_unref(message);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return {name, frames, std::chrono::duration<double>(end - start).count()};
}

Result time_ffmpeg(const std::string &path, int width, int height, int frames,
                   const std::string &filter) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  const std::string count = std::to_string(frames);
  std::vector<std::string> args = {
      "ffmpeg", "-hide_banner", "-loglevel", "error",    "-threads", "1",    "-filter_threads",
      "1",      "-f",           "rawvideo",  "-pix_fmt", "yuv420p",  "-s",   size,
      "-i",     path,           "-frames:v", count,      "-vf",      filter, "-threads",
      "1",      "-f",           "null",      "-"};
  std::vector<char *> argv;
  for (auto &arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawnp(&pid, "ffmpeg", nullptr, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "bench: cannot run ffmpeg\n");
    std::exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const auto end = std::chrono::steady_clock::now();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: ffmpeg failed\n");
    std::exit(1);
  }
  return {"ffmpeg bilateral (1 thread)", frames,
          std::chrono::duration<double>(end - start).count()};
}

// The image processing alone, on frames already in memory: what lpbeauty
// costs a pipeline beyond moving the frame. Each frame's luma is restored
// from a pristine copy before processing (the copy is included).
Result time_core(const std::vector<livepipe::testing::Planes> &frames, int count, int threads) {
  livepipe::beauty::Processor processor;
  processor.set_threads(threads);
  const livepipe::beauty::Params params{1.0, 0.5, true, 8};
  std::vector<uint8_t> luma(frames[0].y.size());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    const auto &p = frames[i % frames.size()];
    std::memcpy(luma.data(), p.y.data(), luma.size());
    livepipe::beauty::Frame frame{p.width,    p.height,         luma.data(), p.width,
                                  p.u.data(), p.chroma_width(), p.v.data(),  p.chroma_width()};
    processor.process(frame, params);
  }
  const auto end = std::chrono::steady_clock::now();
  return {"lpbeauty core, n-threads=" + std::to_string(threads) + " (in memory)", count,
          std::chrono::duration<double>(end - start).count()};
}

}  // namespace

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  int width = 1920, height = 1080, frames = 300, slow_frames = 30;
  std::string dir = "/dev/shm";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--frames")) {
      frames = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--slow-frames")) {
      slow_frames = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--dir")) {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: bench_beauty [--frames N] [--slow-frames N] [--dir DIR]\n");
      return 2;
    }
  }
  if (!gst_registry_find_feature(gst_registry_get(), "lpbeauty", GST_TYPE_ELEMENT_FACTORY)) {
    std::fprintf(stderr, "bench: lpbeauty not found; set GST_PLUGIN_PATH=build/elements\n");
    return 1;
  }

  // Eight distinct noisy skin frames, repeated: the face layout puts skin on
  // every row, so the filter does its full per-row work on every frame.
  const std::string path = dir + "/livepipe-bench-1080p.yuv";
  std::vector<livepipe::testing::Planes> distinct;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    distinct.push_back(
        livepipe::testing::make_face_frame(livepipe::testing::default_layout(width, height), seed));
  }
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < frames; ++i) {
      const auto &p = distinct[i % distinct.size()];
      out.write(reinterpret_cast<const char *>(p.y.data()), p.y.size());
      out.write(reinterpret_cast<const char *>(p.u.data()), p.u.size());
      out.write(reinterpret_cast<const char *>(p.v.data()), p.v.size());
    }
  }

  const std::string src = raw_source(path, width, height, frames);
  const std::string slow_src = raw_source(path, width, height, slow_frames);
  std::vector<Result> results;
  results.push_back(time_gst("identity (I/O floor)", src + " ! identity ! fakesink", frames));
  const Result ours =
      time_gst("lpbeauty n-threads=1",
               src + " ! lpbeauty smoothing=1 whitening=0.5 n-threads=1 ! fakesink", frames);
  results.push_back(ours);
  results.push_back(time_gst("lpbeauty n-threads=2",
                             src + " ! lpbeauty smoothing=1 whitening=0.5 n-threads=2 ! fakesink",
                             frames));
  results.push_back(time_core(distinct, frames, 1));
  results.push_back(time_core(distinct, frames, 2));
  results.push_back(time_gst("gst smooth", slow_src + " ! smooth ! fakesink", slow_frames));
  results.push_back(time_ffmpeg(path, width, height, frames / 2, "bilateral=planes=1"));
  std::filesystem::remove(path);

  std::printf("lpbeauty benchmark: %dx%d I420, smoothing=1 whitening=0.5 skin-only=true\n", width,
              height);
  std::printf("%-42s %7s %8s %9s %14s\n", "contestant", "frames", "seconds", "fps",
              "lpbeauty(1t)/x");
  for (const auto &r : results) {
    std::printf("%-42s %7d %8.3f %9.1f %14.2f\n", r.name.c_str(), r.frames, r.seconds, r.fps(),
                ours.fps() / r.fps());
  }
  return 0;
}
