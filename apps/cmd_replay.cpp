// `livepipe replay clip|hls`: replay jobs on a recording, run locally.
#include "commands.h"

#include "clip.h"
#include "hls.h"
#include "util/json.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(
      out,
      "Usage: livepipe replay clip RECORDING --start SEC --end SEC [--accurate] -o OUT.mp4\n"
      "       livepipe replay hls RECORDING -o DIR [--target-duration SEC]\n"
      "\n"
      "RECORDING is a recording's manifest.json or the directory holding it.\n"
      "\n"
      "clip  one MP4 of a time range. Without --accurate nothing is re-encoded and the\n"
      "      clip starts on the last keyframe at or before --start; with --accurate it\n"
      "      starts and ends exactly there, and video and audio are re-encoded.\n"
      "hls   the recording as HLS video on demand (fMP4 segments and index.m3u8),\n"
      "      cut from the recording's fragments without re-encoding.\n"
      "\n"
      "Progress is a status line on a terminal and JSON lines otherwise.\n"
      "Exit status: 0 done, 1 runtime error, 2 invalid arguments or recording.\n");
}

bool parse_seconds(const char *text, double *seconds) {
  char *end = nullptr;
  double value = std::strtod(text, &end);
  if (!end || *end || !*text || !(value >= 0) || value > 1e9) {
    return false;
  }
  *seconds = value;
  return true;
}

}  // namespace

int cmd_replay(int argc, char **argv) {
  if (argc < 1 || !std::strcmp(argv[0], "-h") || !std::strcmp(argv[0], "--help")) {
    print_usage(argc < 1 ? stderr : stdout);
    return argc < 1 ? kExitInvalid : kExitOk;
  }
  std::string job = argv[0];
  if (job != "clip" && job != "hls") {
    std::fprintf(stderr, "livepipe replay: unknown job '%s' (clip or hls)\n", job.c_str());
    return kExitInvalid;
  }
  const char *recording_path = nullptr;
  const char *output = nullptr;
  double start = -1, end = -1, target = 4.0;
  bool accurate = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool needs_value = arg == "--start" || arg == "--end" || arg == "-o" || arg == "--output" ||
                       arg == "--target-duration";
    if (needs_value && i + 1 >= argc) {
      std::fprintf(stderr, "livepipe replay: %s needs a value\n", arg.c_str());
      return kExitInvalid;
    }
    if (arg == "--start" || arg == "--end" || arg == "--target-duration") {
      double *slot = arg == "--start" ? &start : arg == "--end" ? &end : &target;
      if (!parse_seconds(argv[++i], slot)) {
        std::fprintf(stderr, "livepipe replay: %s takes seconds\n", arg.c_str());
        return kExitInvalid;
      }
    } else if (arg == "-o" || arg == "--output") {
      output = argv[++i];
    } else if (arg == "--accurate") {
      accurate = true;
    } else if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return kExitOk;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "livepipe replay: unknown option %s\n", arg.c_str());
      return kExitInvalid;
    } else if (!recording_path) {
      recording_path = argv[i];
    } else {
      std::fprintf(stderr, "livepipe replay: only one RECORDING\n");
      return kExitInvalid;
    }
  }
  if (!recording_path || !output) {
    std::fprintf(stderr, "livepipe replay %s: RECORDING and -o are required\n", job.c_str());
    return kExitInvalid;
  }
  if (job == "clip" && (start < 0 || end < 0)) {
    std::fprintf(stderr, "livepipe replay clip: --start and --end are required\n");
    return kExitInvalid;
  }
  std::string error;
  auto recording = replay::load_recording(recording_path, &error);
  if (!recording) {
    std::fprintf(stderr, "livepipe replay: %s\n", error.c_str());
    return kExitInvalid;
  }
  bool terminal = isatty(STDOUT_FILENO);
  int last_percent = -1;
  auto progress = [&](double fraction) {
    int percent = static_cast<int>(fraction * 100);
    if (percent == last_percent) {
      return;
    }
    last_percent = percent;
    if (terminal) {
      std::printf("\r%s %3d%%", job.c_str(), percent);
    } else {
      std::printf("%s\n", json::ObjectBuilder()
                              .set("event", "progress")
                              .set("fraction", fraction)
                              .to_string()
                              .c_str());
    }
    std::fflush(stdout);
  };
  json::ObjectBuilder done;
  done.set("event", "done");
  bool ok;
  if (job == "clip") {
    replay::ClipOptions options;
    options.start_ns = static_cast<uint64_t>(start * 1e9);
    options.end_ns = static_cast<uint64_t>(end * 1e9);
    options.accurate = accurate;
    options.output = output;
    options.progress = progress;
    replay::ClipResult result;
    ok = replay::clip_recording(*recording, options, &result, &error);
    done.set("output", output)
        .set("start", result.start_ns / 1e9)
        .set("duration", result.duration_ns / 1e9)
        .set("video_frames", static_cast<int64_t>(result.video_frames))
        .set("accurate", accurate);
  } else {
    replay::HlsOptions options;
    options.directory = output;
    options.target_duration = target;
    options.progress = progress;
    replay::HlsResult result;
    ok = replay::make_hls(*recording, options, &result, &error);
    done.set("playlist", result.playlist_path)
        .set("segments", static_cast<int64_t>(result.media_segments))
        .set("duration", result.duration_seconds);
  }
  if (!ok) {
    if (terminal) {
      std::printf("\n");
    }
    std::fprintf(stderr, "livepipe replay %s: %s\n", job.c_str(), error.c_str());
    if (!terminal) {
      std::printf(
          "%s\n",
          json::ObjectBuilder().set("event", "error").set("message", error).to_string().c_str());
    }
    return kExitRuntime;
  }
  if (terminal) {
    std::printf("\r%s done: %s\n", job.c_str(), output);
  } else {
    std::printf("%s\n", done.to_string().c_str());
  }
  return kExitOk;
}

}  // namespace livepipe::apps
