#pragma once

namespace livepipe::apps {

// Makes livepipe's own plugin visible to GStreamer: the build tree's
// elements/ beside the executable, else the installed plugin directory.
// GST_PLUGIN_PATH, when set, is honoured by GStreamer as usual.
void register_own_plugin(const char *argv0);

}  // namespace livepipe::apps
