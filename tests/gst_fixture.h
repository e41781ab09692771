// Shared Boost.Test set-up for suites that use GStreamer: gst_init once, with
// livepipe's plugin taken from the build tree (GST_PLUGIN_PATH set by ctest).
#pragma once

#include <gst/gst.h>

struct GstGlobalFixture {
  GstGlobalFixture() { gst_init(nullptr, nullptr); }
  // gst_deinit is deliberately not called: it would make leaks of GStreamer's
  // own registry look like ours, and the process ends right after.
};
