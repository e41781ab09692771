// Building a checked plan: elements created with their properties (construct
// properties included), static links made, dynamic links connected to
// pad-added, slots and ghost pads set up.
#pragma once

#include "check.h"
#include "pipeline.h"

#include <memory>

namespace livepipe::pipelines {

// Returns null, with problems, when GStreamer refuses something the checks
// could not foresee (an element that fails to create, a link refused).
std::unique_ptr<Pipeline> build(const CheckedPlan &plan, Problems &problems);

}  // namespace livepipe::pipelines
