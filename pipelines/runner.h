// Runs a pipeline on the calling thread's main loop until EOS, an error or an
// interrupt, the way gst-launch-1.0 does, with a status line and an optional
// picture of the graph.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <string>

namespace livepipe::pipelines {

enum class StatusMode {
  kAuto,      // a terminal on stderr: kTerminal; otherwise kLines
  kTerminal,  // one line, redrawn in place
  kLines,     // a plain line per interval
  kOff,
};

struct RunOptions {
  bool eos_on_interrupt = false;  // -e: on SIGINT send EOS and wait for it
  bool verbose = false;           // -v: print property notifications
  bool quiet = false;             // -q: print nothing but errors (no status either)
  StatusMode status = StatusMode::kAuto;
  // Seconds between status updates; 0: 0.5 on a terminal, 5 otherwise.
  double status_interval = 0;
  // Where to write the graph (--graph FILE.svg): when the pipeline reaches
  // PLAYING, and again when it stops. "" = not at all.
  std::string graph_path;
  // Names an element in messages; the default is describe_object() (the
  // description id for elements built from a description).
  std::function<std::string(GstObject *)> describe;
};

enum class RunResult {
  kEos,          // finished normally
  kInterrupted,  // stopped by SIGINT/SIGTERM (after EOS when asked)
  kError,        // an element posted an error, or a state change failed
};

// Sets `pipeline` to PLAYING, iterates the default main context until done,
// then sets it to NULL. Errors and the status go to stderr.
RunResult run(GstElement *pipeline, const RunOptions &options);

}  // namespace livepipe::pipelines
