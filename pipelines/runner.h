// Runs a pipeline on the calling thread's main loop until EOS, an error or an
// interrupt, the way gst-launch-1.0 does.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <string>

namespace livepipe::pipelines {

struct RunOptions {
  bool eos_on_interrupt = false;  // -e: on SIGINT send EOS and wait for it
  bool verbose = false;           // -v: print property notifications
  bool quiet = false;             // -q: print nothing but errors
  // Names an element in messages (e.g. by its description id); the default is
  // the element's GStreamer name.
  std::function<std::string(GstObject *)> describe;
};

enum class RunResult {
  kEos,          // finished normally
  kInterrupted,  // stopped by SIGINT/SIGTERM (after EOS when asked)
  kError,        // an element posted an error, or a state change failed
};

// Sets `pipeline` to PLAYING, iterates the default main context until done,
// then sets it to NULL. Error messages are printed to stderr.
RunResult run(GstElement *pipeline, const RunOptions &options);

}  // namespace livepipe::pipelines
