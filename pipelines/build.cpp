#include "build.h"

#include "pads.h"

#include <map>
#include <mutex>

namespace livepipe::pipelines {
namespace {

// A link whose source pad appears while running.
struct DynamicLink {
  std::string pad;                   // pad name or template to wait for; "" = any
  std::optional<std::string> media;  // or: the media type its caps must have
  GstPtr<GstElement> target;
  std::string target_pad;  // "" = a compatible one
  MiniPtr<GstCaps> caps;   // the link's caps filter, made into a capsfilter once linked
  std::string filter_name;
  std::string description;  // "decode -> convert", for messages
  bool linked = false;
};

// The dynamic links leaving one element; shared with its pad-added handler.
struct DynamicLinks {
  std::mutex mutex;
  std::vector<DynamicLink> links;
};
using DynamicLinksPtr = std::shared_ptr<DynamicLinks>;

MiniPtr<GstCaps> pad_caps(GstPad *pad) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  return MiniPtr<GstCaps>(caps ? caps : gst_pad_query_caps(pad, nullptr));
}

// A capsfilter for a link, named and marked for messages.
GstElement *make_filter(GstCaps *caps, const std::string &name, const std::string &description) {
  GstElement *filter = gst_element_factory_make("capsfilter", name.c_str());
  g_object_set(filter, "caps", caps, nullptr);
  set_description_id(filter, "caps of " + description);
  return filter;
}

// "video" matches video/x-raw, video/x-h264 and RTP caps with media=video;
// "video/x-h264" matches that media type only.
bool caps_have_media(GstCaps *caps, const std::string &media) {
  for (guint i = 0; caps && i < gst_caps_get_size(caps); ++i) {
    const GstStructure *s = gst_caps_get_structure(caps, i);
    std::string name = gst_structure_get_name(s);
    if (media.find('/') != std::string::npos) {
      if (name == media) {
        return true;
      }
      continue;
    }
    if (name.compare(0, media.size() + 1, media + "/") == 0) {
      return true;
    }
    const char *rtp_media = gst_structure_get_string(s, "media");
    if (rtp_media && media == rtp_media) {
      return true;
    }
  }
  return false;
}

GstPtr<GstPad> pad_by_name(GstElement *element, const std::string &name) {
  if (GstPad *pad = gst_element_get_static_pad(element, name.c_str())) {
    return GstPtr<GstPad>(pad);
  }
  return GstPtr<GstPad>(gst_element_request_pad_simple(element, name.c_str()));
}

// Gives a request pad that was made for a link back when it is not used.
void release_if_requested(GstElement *element, GstPad *pad) {
  GstPtr<GstPadTemplate> templ(pad ? gst_pad_get_pad_template(pad) : nullptr);
  if (templ && GST_PAD_TEMPLATE_PRESENCE(templ.get()) == GST_PAD_REQUEST &&
      !gst_pad_is_linked(pad)) {
    gst_element_release_request_pad(element, pad);
  }
}

void post_link_error(GstElement *element, const std::string &message) {
  GError *error = g_error_new_literal(GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, message.c_str());
  gst_element_post_message(element,
                           gst_message_new_error(GST_OBJECT(element), error, message.c_str()));
  g_error_free(error);
}

void on_pad_added(GstElement *element, GstPad *pad, gpointer data) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
    return;
  }
  auto &state = **static_cast<DynamicLinksPtr *>(data);
  std::lock_guard lock(state.mutex);
  GCharPtr pad_name(gst_pad_get_name(pad));
  MiniPtr<GstCaps> caps = pad_caps(pad);
  for (auto &link : state.links) {
    if (link.linked) {
      continue;
    }
    bool chosen = false;  // named by pad or media: failing to link is an error
    if (!link.pad.empty()) {
      if (!pad_name_matches(link.pad.c_str(), pad_name.get())) {
        continue;
      }
      chosen = true;
    }
    if (link.media) {
      if (!caps_have_media(caps.get(), *link.media)) {
        continue;
      }
      chosen = true;
    }
    GstPtr<GstPad> sink_pad = link.target_pad.empty()
                                  ? GstPtr<GstPad>(gst_element_get_compatible_pad(
                                        link.target.get(), pad, link.caps.get()))
                                  : pad_by_name(link.target.get(), link.target_pad);
    bool compatible = sink_pad && !gst_pad_is_linked(sink_pad.get());
    if (compatible) {
      MiniPtr<GstCaps> accepted(gst_pad_query_caps(sink_pad.get(), link.caps.get()));
      compatible = gst_caps_can_intersect(caps.get(), accepted.get());
    }
    if (!compatible) {
      release_if_requested(link.target.get(), sink_pad.get());
      if (chosen) {
        post_link_error(element, "cannot link pad '" + std::string(pad_name.get()) + "' (" +
                                     (caps ? GCharPtr(gst_caps_to_string(caps.get())).get()
                                           : std::string("no caps")) +
                                     ") for link " + link.description);
      }
      continue;
    }
    // Filtered links get their capsfilter now, as gst-launch-1.0 does for
    // delayed links: before, there was nothing for it to filter.
    GstPtr<GstPad> link_to = std::move(sink_pad);
    if (link.caps) {
      GstElement *filter = make_filter(link.caps.get(), link.filter_name, link.description);
      GstPtr<GstObject> bin(gst_object_get_parent(GST_OBJECT(element)));
      GstPtr<GstPad> filter_src(gst_element_get_static_pad(filter, "src"));
      bool added = bin && gst_bin_add(GST_BIN(bin.get()), filter);
      if (!added || gst_pad_link(filter_src.get(), link_to.get()) != GST_PAD_LINK_OK) {
        if (added) {
          gst_bin_remove(GST_BIN(bin.get()), filter);
        } else {
          gst_object_unref(gst_object_ref_sink(filter));
        }
        release_if_requested(link.target.get(), link_to.get());
        post_link_error(element, "cannot insert the caps filter of link " + link.description);
        continue;
      }
      gst_element_sync_state_with_parent(filter);
      link_to.reset(gst_element_get_static_pad(filter, "sink"));
    }
    GstPadLinkReturn result = gst_pad_link(pad, link_to.get());
    if (result == GST_PAD_LINK_OK) {
      link.linked = true;
      return;
    }
    if (chosen) {
      post_link_error(element, "cannot link pad '" + std::string(pad_name.get()) + "' for link " +
                                   link.description + ": " + gst_pad_link_get_name(result));
    }
  }
}

// The pad of `element` a ghost pad for an input or output should target.
GstPtr<GstPad> end_pad(GstElement *element, const std::string &pad, GstPadDirection direction) {
  if (!pad.empty()) {
    return pad_by_name(element, pad);
  }
  auto free = unlinked_pads(element, direction);
  if (!free.empty()) {
    return std::move(free.front());
  }
  GstPadTemplate *templ = request_template(element, direction);
  return GstPtr<GstPad>(templ ? gst_element_request_pad(element, templ, nullptr, nullptr)
                              : nullptr);
}

}  // namespace

std::unique_ptr<Pipeline> build(const CheckedPlan &checked, Problems &problems) {
  const Plan &plan = *checked.plan;
  const size_t before = problems.size();
  const bool branch = !plan.inputs.empty() || !plan.outputs.empty();
  GstPtr<GstElement> top =
      sink(branch ? gst_bin_new(plan.name.c_str()) : gst_pipeline_new(plan.name.c_str()));
  GstBin *bin = GST_BIN(top.get());

  std::vector<GstElement *> elements;  // parallel to checked.elements; the bin holds them
  for (const auto &element : checked.elements) {
    auto names = element.properties.names();
    GstElement *made = gst_element_factory_create_with_properties(
        element.factory.get(), static_cast<guint>(names.size()), names.data(),
        element.properties.values());
    if (!made) {
      problems.add(element.plan->origin,
                   "could not create '" + element.plan->id + "' (" + element.plan->factory + ")");
      elements.push_back(nullptr);
      continue;
    }
    gst_object_set_name(GST_OBJECT(made), element.plan->id.c_str());
    set_description_id(made, element.plan->id);
    gst_bin_add(bin, made);
    elements.push_back(made);
  }
  if (problems.size() != before) {
    return nullptr;
  }

  // A fan-out slot with no branch attached must not stop the stream.
  for (const auto &slot : checked.slots) {
    GstElement *element = elements[slot.element];
    bool set = false;
    for (const auto &property : checked.elements[slot.element].plan->properties) {
      set |= property.name == "allow-not-linked";
    }
    if (slot.kind == SlotKind::kFanOut && !set &&
        g_object_class_find_property(G_OBJECT_GET_CLASS(element), "allow-not-linked")) {
      g_object_set(element, "allow-not-linked", TRUE, nullptr);
    }
  }

  std::map<size_t, DynamicLinksPtr> dynamic;  // by source element
  for (const auto &link : checked.links) {
    const PlannedLink &planned = *link.plan;
    std::string description = planned.from.to_string() + " -> " + planned.to.to_string();
    GstElement *target = elements[link.to];
    std::string target_pad = link.to_pad;
    std::string filter_name = planned.from.to_string() + "->" + planned.to.to_string();
    if (link.mode == LinkMode::kDynamic) {
      auto &links = dynamic[link.from];
      if (!links) {
        links = std::make_shared<DynamicLinks>();
      }
      links->links.push_back(DynamicLink{planned.from.pad, planned.media, ref(target), target_pad,
                                         link.caps ? ref_mini(link.caps.get()) : nullptr,
                                         filter_name, description});
      continue;
    }
    if (link.caps) {
      GstElement *filter = make_filter(link.caps.get(), filter_name, description);
      gst_bin_add(bin, filter);
      if (!gst_element_link_pads(filter, "src", target,
                                 target_pad.empty() ? nullptr : target_pad.c_str())) {
        problems.add(planned.origin,
                     "could not link the caps filter to '" + planned.to.to_string() + "'");
        continue;
      }
      target = filter;
      target_pad = "sink";
    }
    if (!gst_element_link_pads(elements[link.from],
                               link.from_pad.empty() ? nullptr : link.from_pad.c_str(), target,
                               target_pad.empty() ? nullptr : target_pad.c_str())) {
      problems.add(planned.origin, "could not link " + description +
                                       " (no compatible pads left, or their caps do not meet)");
    }
  }
  for (auto &[source, links] : dynamic) {
    g_signal_connect_data(
        elements[source], "pad-added", G_CALLBACK(on_pad_added), new DynamicLinksPtr(links),
        [](gpointer data, GClosure *) { delete static_cast<DynamicLinksPtr *>(data); },
        GConnectFlags(0));
  }

  auto ghost = [&](const std::vector<CheckedEnd> &ends, GstPadDirection direction) {
    for (const auto &end : ends) {
      GstPtr<GstPad> target = end_pad(elements[end.element], end.plan->target.pad, direction);
      GstPad *pad = target ? gst_ghost_pad_new(end.plan->name.c_str(), target.get()) : nullptr;
      if (!pad || !gst_element_add_pad(top.get(), pad)) {
        problems.add(end.plan->origin, "could not expose '" + end.plan->target.to_string() +
                                           "' as '" + end.plan->name + "'");
      }
    }
  };
  ghost(checked.inputs, GST_PAD_SINK);
  ghost(checked.outputs, GST_PAD_SRC);

  if (problems.size() != before) {
    return nullptr;
  }
  std::vector<std::shared_ptr<Slot>> slots;
  for (const auto &slot : checked.slots) {
    slots.push_back(std::make_shared<Slot>(slot.plan->name, slot.kind, elements[slot.element],
                                           slot.plan->doc, slot.plan->caps));
  }
  return std::make_unique<Pipeline>(std::move(top), plan.name, plan.summary, std::move(slots));
}

}  // namespace livepipe::pipelines
