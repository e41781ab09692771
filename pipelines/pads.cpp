#include "pads.h"

namespace livepipe::pipelines {
namespace {

// Calls `each` with every object an iterator yields (a resync restarts it).
template <typename T, typename Each>
void for_each_item(GstIterator *it, Each each) {
  GValue item = G_VALUE_INIT;
  bool done = false;
  while (!done) {
    switch (gst_iterator_next(it, &item)) {
      case GST_ITERATOR_OK:
        each(static_cast<T *>(g_value_get_object(&item)));
        g_value_reset(&item);
        break;
      case GST_ITERATOR_RESYNC:
        gst_iterator_resync(it);
        break;
      default:
        done = true;
        break;
    }
  }
  g_value_unset(&item);
  gst_iterator_free(it);
}

}  // namespace

std::vector<GstPtr<GstPad>> unlinked_pads(GstElement *element, GstPadDirection direction) {
  std::vector<GstPtr<GstPad>> out;
  for_each_item<GstPad>(direction == GST_PAD_SRC ? gst_element_iterate_src_pads(element)
                                                 : gst_element_iterate_sink_pads(element),
                        [&](GstPad *pad) {
                          if (!gst_pad_is_linked(pad)) {
                            out.push_back(ref(pad));
                          }
                        });
  return out;
}

std::vector<GstPtr<GstPad>> sink_pads(GstElement *element) {
  std::vector<GstPtr<GstPad>> out;
  for_each_item<GstPad>(gst_element_iterate_sink_pads(element),
                        [&](GstPad *pad) { out.push_back(ref(pad)); });
  return out;
}

GstPadTemplate *request_template(GstElement *element, GstPadDirection direction) {
  for (GList *l = gst_element_class_get_pad_template_list(GST_ELEMENT_GET_CLASS(element)); l;
       l = l->next) {
    auto *templ = GST_PAD_TEMPLATE(l->data);
    if (GST_PAD_TEMPLATE_DIRECTION(templ) == direction &&
        GST_PAD_TEMPLATE_PRESENCE(templ) == GST_PAD_REQUEST) {
      return templ;
    }
  }
  return nullptr;
}

std::vector<GstPtr<GstElement>> sink_elements(GstElement *element) {
  std::vector<GstPtr<GstElement>> out;
  auto add = [&](GstElement *candidate) {
    if (!GST_IS_BIN(candidate) && GST_OBJECT_FLAG_IS_SET(candidate, GST_ELEMENT_FLAG_SINK)) {
      out.push_back(ref(candidate));
    }
  };
  if (GST_IS_BIN(element)) {
    for_each_item<GstElement>(gst_bin_iterate_recurse(GST_BIN(element)), add);
  } else {
    add(element);
  }
  return out;
}

}  // namespace livepipe::pipelines
