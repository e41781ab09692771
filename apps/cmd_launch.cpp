// `livepipe launch`: run a gst-launch-1.0 style pipeline or a description.
#include "commands.h"

#include "catalog.h"
#include "cli.h"
#include "loader.h"
#include "runner.h"
#include "util/gstptr.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(
      out,
      "Usage: livepipe launch [OPTIONS] PIPELINE-DESCRIPTION...\n"
      "       livepipe launch [OPTIONS] -f FILE.json|PRESET [-p NAME=VALUE]...\n"
      "\n"
      "Runs a pipeline written in gst-launch-1.0 syntax, or a pipeline description\n"
      "(docs/pipeline-format.md), until end of stream.\n"
      "\n"
      "  -f, --file FILE         run a description file, or a preset by name\n"
      "                          ('livepipe inspect' lists them)\n"
      "  -p, --param NAME=VALUE  give the description's param NAME a value (repeatable)\n"
      "  -e, --eos-on-shutdown   on Ctrl-C send EOS and wait, so files are finalized\n"
      "  -v, --verbose           print property notifications\n"
      "  -q, --quiet             print nothing but errors (no status line)\n"
      "      --graph FILE.svg    write the running pipeline's graph (graphviz; .dot, .png\n"
      "                          and .pdf work too) when it starts playing and when it stops\n"
      "      --status-interval S seconds between status updates (default 0.5 on a\n"
      "                          terminal, 5 otherwise)\n"
      "\n"
      "Status on stderr: position, duration when known, fps and bitrate; one line\n"
      "redrawn on a terminal, a plain line per interval otherwise.\n"
      "\n"
      "Exit status: 0 finished, 1 runtime error, 2 invalid pipeline, description or\n"
      "arguments.\n"
      "\n"
      "Examples:\n"
      "  livepipe launch -e videotestsrc num-buffers=300 ! lpbeauty smoothing=0.8 ! "
      "x264enc ! mp4mux ! filesink location=out.mp4\n"
      "  livepipe launch -e -f testsrc-beauty-file -p location=out.mp4 --graph graph.svg\n");
}

int run_pipeline(GstElement *pipeline, const pipelines::RunOptions &options) {
  switch (pipelines::run(pipeline, options)) {
    case pipelines::RunResult::kEos:
    case pipelines::RunResult::kInterrupted:
      return kExitOk;
    case pipelines::RunResult::kError:
      break;
  }
  return kExitRuntime;
}

int launch_description(const std::string &file, const std::map<std::string, std::string> &params,
                       const pipelines::RunOptions &options) {
  std::filesystem::path dir = presets_dir();
  auto path = pipelines::find_description(file, dir);
  if (!path) {
    std::fprintf(stderr,
                 "livepipe launch: no file or preset '%s' (presets are in %s; 'livepipe "
                 "inspect' lists them)\n",
                 file.c_str(), dir.c_str());
    return kExitInvalid;
  }
  pipelines::Loader loader({dir});
  pipelines::LoadResult loaded = loader.load_file(*path, {.params = params});
  if (!loaded.ok()) {
    print_problems(loaded.problems);
    return kExitInvalid;
  }
  if (loaded.pipeline->is_branch()) {
    std::fprintf(stderr,
                 "livepipe launch: '%s' is a branch (it has inputs or outputs): it attaches to "
                 "a slot of a running pipeline and does not run alone\n",
                 file.c_str());
    return kExitInvalid;
  }
  return run_pipeline(loaded.pipeline->element(), options);
}

}  // namespace

int cmd_launch(int argc, char **argv) {
  pipelines::RunOptions options;
  std::vector<const char *> words;
  std::string file;
  std::map<std::string, std::string> params;
  auto is = [](const char *arg, const char *s, const char *l) {
    size_t n = std::strlen(l);
    return !std::strcmp(arg, s) || !std::strcmp(arg, l) ||
           (!std::strncmp(arg, l, n) && arg[n] == '=');
  };
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    if (!words.empty() || arg[0] != '-') {
      words.push_back(arg);
      continue;
    }
    if (is(arg, "-e", "--eos-on-shutdown")) {
      options.eos_on_interrupt = true;
    } else if (is(arg, "-v", "--verbose")) {
      options.verbose = true;
    } else if (is(arg, "-q", "--quiet")) {
      options.quiet = true;
    } else if (is(arg, "-h", "--help")) {
      print_usage(stdout);
      return kExitOk;
    } else if (is(arg, "-f", "--file")) {
      const char *value = option_value(argc, argv, i, "launch");
      if (!value) {
        return kExitInvalid;
      }
      file = value;
    } else if (is(arg, "-p", "--param")) {
      const char *value = option_value(argc, argv, i, "launch");
      if (!value || !add_param(value, params, "launch")) {
        return kExitInvalid;
      }
    } else if (is(arg, "--graph", "--graph")) {
      const char *value = option_value(argc, argv, i, "launch");
      if (!value) {
        return kExitInvalid;
      }
      options.graph_path = value;
    } else if (is(arg, "--status-interval", "--status-interval")) {
      const char *value = option_value(argc, argv, i, "launch");
      char *end = nullptr;
      double seconds = value ? std::strtod(value, &end) : 0;
      if (!value || *end || seconds <= 0) {
        std::fprintf(stderr, "livepipe launch: --status-interval takes seconds > 0\n");
        return kExitInvalid;
      }
      options.status_interval = seconds;
    } else {
      std::fprintf(stderr, "livepipe launch: unknown option %s\n\n", arg);
      print_usage(stderr);
      return kExitInvalid;
    }
  }
  if (!file.empty()) {
    if (!words.empty()) {
      std::fprintf(stderr,
                   "livepipe launch: give a description file (-f) or a pipeline, not both\n");
      return kExitInvalid;
    }
    return launch_description(file, params, options);
  }
  if (!params.empty()) {
    std::fprintf(stderr, "livepipe launch: -p gives params to a description (-f)\n");
    return kExitInvalid;
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
  return run_pipeline(pipeline.get(), options);
}

}  // namespace livepipe::apps
