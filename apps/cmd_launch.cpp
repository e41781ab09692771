// `livepipe launch`: run a gst-launch-1.0 style pipeline.
#include "commands.h"

#include "runner.h"
#include "util/gstptr.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe launch [-e] [-v] [-q] PIPELINE-DESCRIPTION...\n"
               "\n"
               "Runs a pipeline written in gst-launch-1.0 syntax until end of stream.\n"
               "\n"
               "  -e, --eos-on-shutdown  on Ctrl-C send EOS and wait, so files are finalized\n"
               "  -v, --verbose          print property notifications\n"
               "  -q, --quiet            print nothing but errors\n"
               "\n"
               "Exit status: 0 finished, 1 runtime error, 2 invalid pipeline or arguments.\n"
               "\n"
               "Example:\n"
               "  livepipe launch -e videotestsrc num-buffers=300 ! lpbeauty smoothing=0.8 ! "
               "x264enc ! mp4mux ! filesink location=out.mp4\n");
}

}  // namespace

int cmd_launch(int argc, char **argv) {
  pipelines::RunOptions options;
  std::vector<const char *> words;
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    if (words.empty() && arg[0] == '-') {
      if (!std::strcmp(arg, "-e") || !std::strcmp(arg, "--eos-on-shutdown")) {
        options.eos_on_interrupt = true;
      } else if (!std::strcmp(arg, "-v") || !std::strcmp(arg, "--verbose")) {
        options.verbose = true;
      } else if (!std::strcmp(arg, "-q") || !std::strcmp(arg, "--quiet")) {
        options.quiet = true;
      } else if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
        print_usage(stdout);
        return kExitOk;
      } else {
        std::fprintf(stderr, "livepipe launch: unknown option %s\n\n", arg);
        print_usage(stderr);
        return kExitInvalid;
      }
      continue;
    }
    words.push_back(arg);
  }
  if (words.empty()) {
    print_usage(stderr);
    return kExitInvalid;
  }
  words.push_back(nullptr);

  GError *error = nullptr;
  GstElement *parsed = gst_parse_launchv(words.data(), &error);
  if (!parsed || error) {
    std::fprintf(stderr, "livepipe launch: invalid pipeline: %s\n",
                 error ? error->message : "could not be built");
    g_clear_error(&error);
    if (parsed) {
      gst_object_unref(parsed);
    }
    return kExitInvalid;
  }
  GstPtr<GstElement> pipeline = sink(parsed);
  if (!GST_IS_PIPELINE(pipeline.get())) {
    // A single element: wrap it so it gets a bus and a clock.
    GstPtr<GstElement> wrapper = sink(gst_pipeline_new(nullptr));
    gst_bin_add(GST_BIN(wrapper.get()), GST_ELEMENT(gst_object_ref(pipeline.get())));
    pipeline = std::move(wrapper);
  }
  switch (pipelines::run(pipeline.get(), options)) {
    case pipelines::RunResult::kEos:
    case pipelines::RunResult::kInterrupted:
      return kExitOk;
    case pipelines::RunResult::kError:
      break;
  }
  return kExitRuntime;
}

}  // namespace livepipe::apps
