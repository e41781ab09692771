#include "pipeline.h"

namespace livepipe::pipelines {
namespace {

GQuark id_quark() {
  static const GQuark quark = g_quark_from_static_string("livepipe-description-id");
  return quark;
}

const char *description_id(GstObject *object) {
  return GST_IS_ELEMENT(object)
             ? static_cast<const char *>(g_object_get_qdata(G_OBJECT(object), id_quark()))
             : nullptr;
}

}  // namespace

Pipeline::Pipeline(GstPtr<GstElement> element, std::string name, std::string summary,
                   std::vector<std::shared_ptr<Slot>> slots)
    : element_(std::move(element)),
      name_(std::move(name)),
      summary_(std::move(summary)),
      slots_(std::move(slots)) {}

Pipeline::~Pipeline() {
  if (GstObject *parent = gst_object_get_parent(GST_OBJECT(element_.get()))) {
    gst_object_unref(parent);
    return;
  }
  gst_element_set_state(element_.get(), GST_STATE_NULL);
}

Slot *Pipeline::slot(std::string_view name) const {
  return slot_ptr(name).get();
}

std::shared_ptr<Slot> Pipeline::slot_ptr(std::string_view name) const {
  for (const auto &slot : slots_) {
    if (slot->name() == name) {
      return slot;
    }
  }
  return nullptr;
}

GstElement *Pipeline::find(std::string_view id) const {
  GstElement *found = gst_bin_get_by_name(GST_BIN(element_.get()), std::string(id).c_str());
  if (found) {
    gst_object_unref(found);  // the bin keeps its own reference
  }
  return found;
}

void set_description_id(GstElement *element, const std::string &id) {
  g_object_set_qdata_full(G_OBJECT(element), id_quark(), g_strdup(id.c_str()), g_free);
}

std::string describe_object(GstObject *object) {
  if (!object) {
    return "pipeline";
  }
  GstPtr<GstObject> current = ref(object);
  while (current) {
    if (const char *id = description_id(current.get())) {
      if (current.get() == object) {
        return id;
      }
      GCharPtr name(gst_object_get_name(object));
      return std::string(id) + " (" + (name ? name.get() : "?") + ")";
    }
    current.reset(gst_object_get_parent(current.get()));
  }
  GCharPtr name(gst_object_get_name(object));
  return name ? name.get() : "element";
}

}  // namespace livepipe::pipelines
