// `livepipe record`: record a source through lprecordbin into a root.
#include "commands.h"

#include "record_job.h"
#include "util/json.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe record [OPTIONS] SOURCE\n"
               "\n"
               "Records SOURCE without re-encoding into crash-safe segments with a manifest.\n"
               "SOURCE is 'test' (a live 2 Mb/s H.264 + AAC test stream), a file, or a URI.\n"
               "\n"
               "  --root DIR               directory the recording stays below (default .)\n"
               "  --stream NAME            stream name, [A-Za-z0-9._-] (default recording)\n"
               "  --location TEMPLATE      segment path below the root (default "
               "{stream}/seg-%%05d.mp4)\n"
               "  --format mp4|mkv         container (default mp4)\n"
               "  --segment-duration SEC   start a new segment after this (default 60)\n"
               "  --segment-size BYTES     start a new segment before this size (default none)\n"
               "  --fragment-duration MS   fragment length, what a crash can lose (default 500)\n"
               "  --duration SEC           stop after this long (default: at EOS or Ctrl-C)\n"
               "  --bitrate KBPS           bitrate of the test source (default 2000)\n"
               "\n"
               "Progress is a status line on a terminal and JSON lines otherwise.\n"
               "Ctrl-C finishes the current segment and stops.\n"
               "Exit status: 0 finished, 1 runtime error, 2 invalid arguments or location.\n");
}

bool parse_seconds(const char *text, uint64_t *ns) {
  char *end = nullptr;
  double value = std::strtod(text, &end);
  if (!end || *end || !(value >= 0) || value > 1e7) {
    return false;
  }
  *ns = static_cast<uint64_t>(value * 1e9);
  return true;
}

std::string human_bytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

}  // namespace

int cmd_record(int argc, char **argv) {
  replay::RecordOptions options;
  const char *source = nullptr;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char *name) -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "livepipe record: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    const char *v = nullptr;
    uint64_t number = 0;
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return kExitOk;
    } else if (arg == "--root") {
      if (!(v = value("--root")))
        return kExitInvalid;
      options.root = v;
    } else if (arg == "--stream") {
      if (!(v = value("--stream")))
        return kExitInvalid;
      options.stream = v;
    } else if (arg == "--location") {
      if (!(v = value("--location")))
        return kExitInvalid;
      options.location = v;
    } else if (arg == "--format") {
      if (!(v = value("--format")))
        return kExitInvalid;
      options.format = v;
    } else if (arg == "--segment-duration" || arg == "--duration") {
      if (!(v = value(arg.c_str())) || !parse_seconds(v, &number)) {
        std::fprintf(stderr, "livepipe record: %s takes seconds\n", arg.c_str());
        return kExitInvalid;
      }
      (arg == "--duration" ? options.duration_ns : options.segment_duration_ns) = number;
    } else if (arg == "--segment-size" || arg == "--fragment-duration" || arg == "--bitrate") {
      char *end = nullptr;
      if (!(v = value(arg.c_str())))
        return kExitInvalid;
      unsigned long long n = std::strtoull(v, &end, 10);
      if (!end || *end || !*v) {
        std::fprintf(stderr, "livepipe record: %s takes a whole number\n", arg.c_str());
        return kExitInvalid;
      }
      if (arg == "--segment-size") {
        options.segment_size = n;
      } else if (arg == "--bitrate") {
        if (n < 100 || n > 50000) {
          std::fprintf(stderr, "livepipe record: --bitrate is 100..50000 kb/s\n");
          return kExitInvalid;
        }
        options.test_bitrate_kbps = static_cast<unsigned>(n);
      } else {
        if (n < 100 || n > 1000) {
          std::fprintf(stderr, "livepipe record: --fragment-duration is 100..1000 ms\n");
          return kExitInvalid;
        }
        options.fragment_ms = static_cast<unsigned>(n);
      }
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      std::fprintf(stderr, "livepipe record: unknown option %s\n\n", arg.c_str());
      print_usage(stderr);
      return kExitInvalid;
    } else if (!source) {
      source = argv[i];
    } else {
      std::fprintf(stderr, "livepipe record: only one SOURCE\n");
      return kExitInvalid;
    }
  }
  if (!source) {
    print_usage(stderr);
    return kExitInvalid;
  }
  options.source = source;
  bool terminal = isatty(STDOUT_FILENO);
  auto on_event = [&](const replay::RecordEvent &e) {
    if (terminal) {
      switch (e.kind) {
        case replay::RecordEvent::kError:
          std::fprintf(stderr, "\nlivepipe record: %s\n", e.message.c_str());
          return;
        case replay::RecordEvent::kSegment:
          std::printf("\rsegment %s  %.2f s  %s%s\n", e.path.c_str(), e.duration_ns / 1e9,
                      human_bytes(e.size).c_str(), e.discont ? "  (after a discontinuity)" : "");
          break;
        case replay::RecordEvent::kFinished:
          std::printf("\rfinished: %.1f s, %llu segments, %s\n", e.elapsed_ns / 1e9,
                      static_cast<unsigned long long>(e.segments), human_bytes(e.bytes).c_str());
          break;
        default:
          std::printf("\rrecording %s: %.0f s, %llu segments done, %s   ", options.stream.c_str(),
                      e.elapsed_ns / 1e9, static_cast<unsigned long long>(e.segments),
                      human_bytes(e.bytes).c_str());
          break;
      }
      std::fflush(stdout);
      return;
    }
    static const char *kinds[] = {"started", "segment", "progress", "finished", "error"};
    json::ObjectBuilder line;
    line.set("event", kinds[e.kind]);
    if (e.kind == replay::RecordEvent::kError) {
      line.set("message", e.message);
    } else {
      line.set("elapsed", e.elapsed_ns / 1e9)
          .set("segments", static_cast<int64_t>(e.segments))
          .set("bytes", static_cast<int64_t>(e.bytes));
    }
    if (e.kind == replay::RecordEvent::kSegment) {
      line.set("path", e.path)
          .set("start", e.start_ns / 1e9)
          .set("duration", e.duration_ns / 1e9)
          .set("size", static_cast<int64_t>(e.size))
          .set("discont", e.discont);
    }
    std::printf("%s\n", line.to_string().c_str());
    std::fflush(stdout);
  };
  return replay::run_record(options, on_event);
}

}  // namespace livepipe::apps
