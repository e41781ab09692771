// Pictures of running pipelines: GStreamer's dot dump of a bin, rendered by
// graphviz.
#pragma once

#include <gst/gst.h>

#include <string>

namespace livepipe::pipelines {

// Writes `bin`'s graph to `path`: as dot text when it ends in ".dot", else
// rendered by graphviz's `dot` in the format its extension names (svg, png,
// pdf). Returns false and says why on failure.
bool write_graph(GstBin *bin, const std::string &path, std::string *error);

}  // namespace livepipe::pipelines
