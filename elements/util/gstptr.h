// RAII owners for GObject, GstObject and GstMiniObject references.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <utility>

namespace livepipe {

struct GstObjectUnref {
  void operator()(gpointer object) const { gst_object_unref(object); }
};
struct GObjectUnref {
  void operator()(gpointer object) const { g_object_unref(object); }
};
struct GstMiniObjectUnref {
  void operator()(gpointer object) const { gst_mini_object_unref(GST_MINI_OBJECT_CAST(object)); }
};

// Owns one reference to a GstObject (elements, pads, buses, pipelines).
template <typename T>
using GstPtr = std::unique_ptr<T, GstObjectUnref>;
// Owns one reference to a plain GObject (SoupServer, JsonParser, ...).
template <typename T>
using GObjPtr = std::unique_ptr<T, GObjectUnref>;
// Owns one reference to a GstMiniObject (GstCaps, GstBuffer, GstMessage, ...).
template <typename T>
using MiniPtr = std::unique_ptr<T, GstMiniObjectUnref>;

// Takes ownership of a reference the caller already holds (transfer full).
template <typename T>
GstPtr<T> adopt(T *object) {
  return GstPtr<T>(object);
}

// Adds a reference and owns it (transfer none -> owned).
template <typename T>
GstPtr<T> ref(T *object) {
  return GstPtr<T>(object ? static_cast<T *>(gst_object_ref(object)) : nullptr);
}

// Sinks a floating reference (fresh from gst_element_factory_make and friends)
// so ownership is never ambiguous.
template <typename T>
GstPtr<T> sink(T *object) {
  return GstPtr<T>(object ? static_cast<T *>(gst_object_ref_sink(object)) : nullptr);
}

template <typename T>
MiniPtr<T> adopt_mini(T *object) {
  return MiniPtr<T>(object);
}

template <typename T>
MiniPtr<T> ref_mini(T *object) {
  return MiniPtr<T>(
      object ? reinterpret_cast<T *>(gst_mini_object_ref(GST_MINI_OBJECT_CAST(object))) : nullptr);
}

// Holds GST_OBJECT_LOCK for its scope.
class ObjectLocker {
 public:
  explicit ObjectLocker(gpointer object) : object_(GST_OBJECT_CAST(object)) {
    GST_OBJECT_LOCK(object_);
  }
  ~ObjectLocker() { GST_OBJECT_UNLOCK(object_); }
  ObjectLocker(const ObjectLocker &) = delete;
  ObjectLocker &operator=(const ObjectLocker &) = delete;

 private:
  GstObject *object_;
};

// Frees g_malloc'ed memory (strings from GLib, gst_caps_to_string, ...).
struct GFree {
  void operator()(gpointer memory) const { g_free(memory); }
};
using GCharPtr = std::unique_ptr<gchar, GFree>;

}  // namespace livepipe
