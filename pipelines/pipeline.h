// A pipeline built from a description: the GstPipeline (or, for a branch
// description with inputs/outputs, a GstBin with ghost pads) and its slots.
#pragma once

#include "slot.h"
#include "util/gstptr.h"

#include <gst/gst.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::pipelines {

class Pipeline {
 public:
  Pipeline(GstPtr<GstElement> element, std::string name, std::string summary,
           std::vector<std::shared_ptr<Slot>> slots);
  // A top-level pipeline is set to NULL first; a branch bin that has been
  // added to another bin is left to that bin.
  ~Pipeline();
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;

  // The GstPipeline, or the GstBin of a branch description.
  GstElement *element() const { return element_.get(); }
  bool is_branch() const { return !GST_IS_PIPELINE(element_.get()); }
  const std::string &name() const { return name_; }
  const std::string &summary() const { return summary_; }

  // The slot called `name`, or null.
  Slot *slot(std::string_view name) const;
  std::shared_ptr<Slot> slot_ptr(std::string_view name) const;
  const std::vector<std::shared_ptr<Slot>> &slots() const { return slots_; }

  // The element with description id `id` ("enc/x264" inside templates), or
  // null. Transfer none: the pipeline keeps it.
  GstElement *find(std::string_view id) const;

 private:
  GstPtr<GstElement> element_;
  std::string name_;
  std::string summary_;
  std::vector<std::shared_ptr<Slot>> slots_;
};

// Names `object` for messages by its description id: the element's own id,
// or the id of the nearest element it belongs to followed by its own name
// ("decode (qtdemux0)"). Objects not built from a description keep their
// GStreamer name.
std::string describe_object(GstObject *object);

// Marks `element` as built for description id `id` (used by describe_object).
void set_description_id(GstElement *element, const std::string &id);

}  // namespace livepipe::pipelines
