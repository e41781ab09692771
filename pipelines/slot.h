// Slots: named points of a running pipeline (a tee, a funnel) where branches
// are attached and detached while it plays, without pausing the stream.
//
// A fan-out slot (tee) gives each branch a new request src pad: the branch
// receives a copy of the stream. A fan-in slot (funnel, a mixer) gives each
// branch a new request sink pad: the branch feeds the stream. Attach and
// detach are called on the thread that owns the pipeline's main context;
// removal happens at an idle point of the pad (an IDLE pad probe), so the
// stream and the other branches never stop.
#pragma once

#include "description.h"
#include "util/gstptr.h"

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace livepipe::pipelines {

class Slot;

// One attached branch. Keep the pointer to detach it later.
class Branch {
 public:
  GstElement *element() const { return element_.get(); }
  // The slot's request pad this branch is linked to.
  GstPad *slot_pad() const { return slot_pad_.get(); }
  bool detaching() const { return detaching_; }

 private:
  friend class Slot;
  GstPtr<GstElement> element_;
  GstPtr<GstPad> slot_pad_;
  GstPtr<GstPad> branch_pad_;
  bool detaching_ = false;
};
using BranchPtr = std::shared_ptr<Branch>;

struct AttachOptions {
  // Fan-out: ask upstream for a key frame (GstForceKeyUnit) so a decoder in
  // the new branch can start at once; an encoder makes one, an RTP depayloader
  // turns it into a PLI to the sender.
  bool request_keyframe = false;
};

struct DetachOptions {
  // Fan-out: send EOS through the branch and remove it once every sink in it
  // has received EOS, so a recording is finalized. Otherwise remove at once.
  bool drain = false;
  // Gives up waiting for the drain after this long and removes the branch.
  guint drain_timeout_ms = 5000;
  // Called on `context` (nullptr: the default main context) once the branch
  // is out of the pipeline and in the NULL state.
  std::function<void()> on_detached;
  GMainContext *context = nullptr;
};

class Slot : public std::enable_shared_from_this<Slot> {
 public:
  Slot(std::string name, SlotKind kind, GstElement *element, std::string doc, std::string caps);
  Slot(const Slot &) = delete;
  Slot &operator=(const Slot &) = delete;

  const std::string &name() const { return name_; }
  SlotKind kind() const { return kind_; }
  GstElement *element() const { return element_.get(); }
  const std::string &doc() const { return doc_; }
  // What the description says flows through the slot (documentation).
  const std::string &caps() const { return caps_; }

  // Adds `branch` (a single element or a bin with one unlinked sink pad for a
  // fan-out slot, one unlinked src pad for a fan-in slot; floating references
  // are sunk) to the slot's bin, brings it to the bin's state and links it
  // through a new request pad. Returns null and says why when it cannot.
  BranchPtr attach(GstElement *branch, std::string *error, const AttachOptions &options = {});

  // Unlinks `branch` at an idle point of its pad, releases the request pad,
  // sets the branch to NULL and removes it; see DetachOptions.
  void detach(const BranchPtr &branch, DetachOptions options = {});

  // Branches attached and not yet fully detached.
  std::vector<BranchPtr> branches() const;

 private:
  friend struct SlotAccess;
  void finish_detach(const BranchPtr &branch, const DetachOptions &options);

  std::string name_;
  SlotKind kind_;
  GstPtr<GstElement> element_;
  std::string doc_;
  std::string caps_;
  mutable std::mutex mutex_;
  std::vector<BranchPtr> branches_;
};

}  // namespace livepipe::pipelines
