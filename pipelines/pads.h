// Small walks over running elements shared by the builder, slots and the
// status meter.
#pragma once

#include "util/gstptr.h"

#include <gst/gst.h>

#include <vector>

namespace livepipe::pipelines {

// The element's pads in `direction` that are not linked.
std::vector<GstPtr<GstPad>> unlinked_pads(GstElement *element, GstPadDirection direction);

// The element's sink pads.
std::vector<GstPtr<GstPad>> sink_pads(GstElement *element);

// The element's first request pad template in `direction`, or null.
GstPadTemplate *request_template(GstElement *element, GstPadDirection direction);

// The sinks in `element`: itself when it is one, else every sink element in
// it and in the bins it holds.
std::vector<GstPtr<GstElement>> sink_elements(GstElement *element);

}  // namespace livepipe::pipelines
