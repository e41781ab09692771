#include "slot.h"

#include "pads.h"
#include "util/maincontext.h"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>

namespace livepipe::pipelines {
namespace {

// The one unlinked pad of `element` in `direction`, or null when there is
// none or more than one.
GstPtr<GstPad> sole_free_pad(GstElement *element, GstPadDirection direction, std::string *why) {
  auto pads = unlinked_pads(element, direction);
  if (pads.size() != 1) {
    *why = std::string("a branch needs exactly one unlinked ") +
           (direction == GST_PAD_SRC ? "src" : "sink") + " pad; it has " +
           std::to_string(pads.size());
    return nullptr;
  }
  return std::move(pads.front());
}

// Shared by the probes and the timeout of one detach.
struct DetachJob {
  std::shared_ptr<Slot> slot;
  BranchPtr branch;
  DetachOptions options;
  std::atomic<int> pending_sinks{0};
  std::atomic<bool> finishing{false};
  SourceGuard timeout;
};
using DetachJobPtr = std::shared_ptr<DetachJob>;

}  // namespace

// Lets the probe callbacks (plain functions) reach Slot's private finish.
struct SlotAccess {
  static void finish(const DetachJobPtr &job) {
    if (job->finishing.exchange(true)) {
      return;
    }
    post_to(job->options.context, [job] {
      job->timeout.reset();
      job->slot->finish_detach(job->branch, job->options);
    });
  }
};

Slot::Slot(std::string name, SlotKind kind, GstElement *element, std::string doc, std::string caps)
    : name_(std::move(name)),
      kind_(kind),
      element_(ref(element)),
      doc_(std::move(doc)),
      caps_(std::move(caps)) {}

BranchPtr Slot::attach(GstElement *branch_element, std::string *error,
                       const AttachOptions &options) {
  GstPtr<GstElement> element = sink(branch_element);
  GstPtr<GstElement> bin(GST_ELEMENT(gst_object_get_parent(GST_OBJECT(element_.get()))));
  if (!bin) {
    *error = "slot '" + name_ + "' is not in a pipeline";
    return nullptr;
  }
  if (GstObject *parent = gst_object_get_parent(GST_OBJECT(element.get()))) {
    gst_object_unref(parent);
    *error = "the branch is already in a bin";
    return nullptr;
  }
  const bool fan_out = kind_ == SlotKind::kFanOut;
  std::string why;
  GstPtr<GstPad> branch_pad =
      sole_free_pad(element.get(), fan_out ? GST_PAD_SINK : GST_PAD_SRC, &why);
  if (!branch_pad) {
    *error = why;
    return nullptr;
  }
  GstPadTemplate *templ = request_template(element_.get(), fan_out ? GST_PAD_SRC : GST_PAD_SINK);
  if (!templ) {
    *error = "slot '" + name_ + "' has no request pads";
    return nullptr;
  }
  if (!gst_bin_add(GST_BIN(bin.get()), element.get())) {
    *error = "the branch could not be added to the pipeline (a name clash?)";
    return nullptr;
  }
  GstPtr<GstPad> slot_pad(gst_element_request_pad(element_.get(), templ, nullptr, nullptr));
  if (!slot_pad) {
    gst_bin_remove(GST_BIN(bin.get()), element.get());
    *error = "slot '" + name_ + "' gave no request pad";
    return nullptr;
  }
  // A fan-out branch must be running before data reaches it, or the first
  // push would fail as flushing; a fan-in branch must be linked before it
  // starts pushing.
  if (fan_out) {
    gst_element_sync_state_with_parent(element.get());
  }
  GstPadLinkReturn linked = fan_out ? gst_pad_link(slot_pad.get(), branch_pad.get())
                                    : gst_pad_link(branch_pad.get(), slot_pad.get());
  if (linked != GST_PAD_LINK_OK) {
    gst_element_release_request_pad(element_.get(), slot_pad.get());
    gst_element_set_state(element.get(), GST_STATE_NULL);
    gst_bin_remove(GST_BIN(bin.get()), element.get());
    *error = std::string("the branch cannot link to slot '") + name_ +
             "': " + gst_pad_link_get_name(linked);
    return nullptr;
  }
  if (!fan_out) {
    gst_element_sync_state_with_parent(element.get());
  }
  if (fan_out && options.request_keyframe) {
    gst_pad_send_event(slot_pad.get(),
                       gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  auto branch = std::make_shared<Branch>();
  branch->element_ = std::move(element);
  branch->slot_pad_ = std::move(slot_pad);
  branch->branch_pad_ = std::move(branch_pad);
  std::lock_guard lock(mutex_);
  branches_.push_back(branch);
  return branch;
}

void Slot::detach(const BranchPtr &branch, DetachOptions options) {
  {
    std::lock_guard lock(mutex_);
    if (!branch || branch->detaching_ ||
        std::find(branches_.begin(), branches_.end(), branch) == branches_.end()) {
      return;
    }
    branch->detaching_ = true;
  }
  auto job = std::make_shared<DetachJob>();
  job->slot = shared_from_this();
  job->branch = branch;
  job->options = std::move(options);
  const bool fan_out = kind_ == SlotKind::kFanOut;
  // The src side of the link is where data flows from; once it is idle the
  // link can be cut without a buffer in flight.
  GstPad *upstream = fan_out ? branch->slot_pad_.get() : branch->branch_pad_.get();
  gst_pad_add_probe(
      upstream, GST_PAD_PROBE_TYPE_IDLE,
      [](GstPad *, GstPadProbeInfo *, gpointer data) -> GstPadProbeReturn {
        DetachJobPtr job = *static_cast<DetachJobPtr *>(data);
        Branch &branch = *job->branch;
        const bool fan_out = job->slot->kind() == SlotKind::kFanOut;
        if (fan_out) {
          gst_pad_unlink(branch.slot_pad_.get(), branch.branch_pad_.get());
        } else {
          gst_pad_unlink(branch.branch_pad_.get(), branch.slot_pad_.get());
        }
        auto sinks = fan_out && job->options.drain ? sink_elements(branch.element_.get())
                                                   : std::vector<GstPtr<GstElement>>{};
        if (sinks.empty()) {
          SlotAccess::finish(job);
          return GST_PAD_PROBE_REMOVE;
        }
        job->pending_sinks = static_cast<int>(sinks.size());
        for (const auto &sink_element : sinks) {
          GstPtr<GstPad> pad(gst_element_get_static_pad(sink_element.get(), "sink"));
          if (!pad) {
            --job->pending_sinks;
            continue;
          }
          gst_pad_add_probe(
              pad.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
              [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
                if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS) {
                  return GST_PAD_PROBE_OK;
                }
                DetachJobPtr job = *static_cast<DetachJobPtr *>(data);
                if (--job->pending_sinks == 0) {
                  SlotAccess::finish(job);
                }
                return GST_PAD_PROBE_REMOVE;
              },
              new DetachJobPtr(job),
              [](gpointer data) { delete static_cast<DetachJobPtr *>(data); });
        }
        if (job->pending_sinks == 0) {
          SlotAccess::finish(job);
          return GST_PAD_PROBE_REMOVE;
        }
        invoke_on(job->options.context, [job] {
          if (!job->finishing) {
            job->timeout = add_timeout(job->options.context, job->options.drain_timeout_ms, [job] {
              SlotAccess::finish(job);
              return false;
            });
          }
        });
        gst_pad_send_event(branch.branch_pad_.get(), gst_event_new_eos());
        return GST_PAD_PROBE_REMOVE;
      },
      new DetachJobPtr(job), [](gpointer data) { delete static_cast<DetachJobPtr *>(data); });
}

void Slot::finish_detach(const BranchPtr &branch, const DetachOptions &options) {
  gst_element_release_request_pad(element_.get(), branch->slot_pad_.get());
  gst_element_set_state(branch->element_.get(), GST_STATE_NULL);
  if (GstObject *parent = gst_object_get_parent(GST_OBJECT(branch->element_.get()))) {
    gst_bin_remove(GST_BIN(parent), branch->element_.get());
    gst_object_unref(parent);
  }
  {
    std::lock_guard lock(mutex_);
    branches_.erase(std::remove(branches_.begin(), branches_.end(), branch), branches_.end());
  }
  if (options.on_detached) {
    options.on_detached();
  }
}

std::vector<BranchPtr> Slot::branches() const {
  std::lock_guard lock(mutex_);
  return branches_;
}

}  // namespace livepipe::pipelines
