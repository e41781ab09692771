// Checking an expanded plan against GStreamer's registry, without creating a
// single element: factories, properties and their values (through each
// class's GParamSpecs), pads and caps of every link (through pad templates),
// cycles, unused elements and slots.
#pragma once

#include "expand.h"
#include "util/gstptr.h"
#include "values.h"

#include <gst/gst.h>

#include <memory>
#include <vector>

namespace livepipe::pipelines {

struct CheckedElement {
  const PlannedElement *plan = nullptr;
  GstPtr<GstElementFactory> factory;  // loaded
  ValueList properties;               // converted to each property's type
};

enum class LinkMode {
  kStatic,   // pads exist now (always or request pads)
  kDynamic,  // the source pad appears while running (a "sometimes" pad)
};

struct CheckedLink {
  const PlannedLink *plan = nullptr;
  size_t from = 0;  // indices into CheckedPlan::elements
  size_t to = 0;
  MiniPtr<GstCaps> caps;  // the link's caps filter, or null
  LinkMode mode = LinkMode::kStatic;
  // Pad (or pad template) names to link, "" to let GStreamer choose: the
  // description's, else the element's only template on that side.
  std::string from_pad;
  std::string to_pad;
};

struct CheckedSlot {
  const SlotDecl *plan = nullptr;
  size_t element = 0;
  SlotKind kind = SlotKind::kFanOut;
};

struct CheckedEnd {
  const PlannedEnd *plan = nullptr;
  size_t element = 0;
};

struct CheckedPlan {
  std::unique_ptr<Plan> plan;
  std::vector<CheckedElement> elements;
  std::vector<CheckedLink> links;
  std::vector<CheckedSlot> slots;
  std::vector<CheckedEnd> inputs;
  std::vector<CheckedEnd> outputs;
};

// Checks everything in `plan` and reports every problem found.
CheckedPlan check(std::unique_ptr<Plan> plan, Problems &problems);

// Matches a pad name against a pad template name: "src_%u" matches "src_0"
// and "src_%u" itself; %d allows a sign, %s any text.
bool pad_name_matches(const char *pattern, const char *name);

// Names of every element factory in the registry (for suggestions).
std::vector<std::string> element_factory_names();

}  // namespace livepipe::pipelines
