/**
 * SECTION:element-lpmoderationtap
 * @title: lpmoderationtap
 *
 * The source of a passthrough moderated stream's snapshot path: the encoded
 * frames the lpmoderationswitch named by `switch` selects for decoding (key
 * frames while the verdict allows the stream, every frame while it does
 * not), on this element's own streaming thread, so decoding never holds up
 * the switch. Timestamps are the switch's running times. A live source; one
 * tap per switch.
 *
 * ## Example launch line
 * See lpmoderationswitch.
 */
#include "gstlpmoderationtap.h"

#include "gstlpmoderationswitch.h"
#include "util/gstptr.h"

#include <string>

GST_DEBUG_CATEGORY_STATIC(gst_lp_moderation_tap_debug);
#define GST_CAT_DEFAULT gst_lp_moderation_tap_debug

namespace {

enum { PROP_0, PROP_SWITCH };

struct TapState {
  std::string switch_name;          // guarded by the object lock
  GWeakRef found;                   // the switch, once found
  livepipe::MiniPtr<GstCaps> caps;  // the caps last set on src
};

}  // namespace

struct _GstLpModerationTap {
  GstPushSrc parent;
  TapState *state;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264, stream-format = (string) avc, alignment = (string) au; "
                    "video/x-vp8; audio/x-opus"));

G_DEFINE_TYPE(GstLpModerationTap, gst_lp_moderation_tap, GST_TYPE_PUSH_SRC)
GST_ELEMENT_REGISTER_DEFINE(lpmoderationtap, "lpmoderationtap", GST_RANK_NONE,
                            GST_TYPE_LP_MODERATION_TAP)

// The switch by name, from this element's parent upwards (a reference);
// null with the reason in `error`.
static GstLpModerationSwitch *find_switch(GstLpModerationTap *self, std::string *error) {
  if (auto *known = static_cast<GstLpModerationSwitch *>(g_weak_ref_get(&self->state->found))) {
    return known;
  }
  std::string name;
  {
    livepipe::ObjectLocker lock(self);
    name = self->state->switch_name;
  }
  if (name.empty()) {
    *error = "the \"switch\" property is not set";
    return nullptr;
  }
  auto parent = livepipe::adopt(gst_object_get_parent(GST_OBJECT(self)));
  GstElement *found = parent && GST_IS_BIN(parent.get())
                          ? gst_bin_get_by_name_recurse_up(GST_BIN(parent.get()), name.c_str())
                          : nullptr;
  if (!found || !GST_IS_LP_MODERATION_SWITCH(found)) {
    *error = "no lpmoderationswitch named \"" + name + "\" in the pipeline";
    if (found) {
      gst_object_unref(found);
    }
    return nullptr;
  }
  g_weak_ref_set(&self->state->found, found);
  return GST_LP_MODERATION_SWITCH(found);
}

static GstFlowReturn gst_lp_moderation_tap_create(GstPushSrc *src, GstBuffer **out) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(src);
  std::string error;
  GstLpModerationSwitch *moderation_switch = find_switch(self, &error);
  if (!moderation_switch) {
    GST_ELEMENT_ERROR(self, CORE, FAILED, ("lpmoderationtap: %s", error.c_str()), (nullptr));
    return GST_FLOW_ERROR;
  }
  GstBuffer *buffer = nullptr;
  GstCaps *caps = nullptr;
  GstLpModerationSwitchPull pulled =
      gst_lp_moderation_switch_pull(moderation_switch, &buffer, &caps);
  gst_object_unref(moderation_switch);
  if (pulled == GST_LP_MODERATION_SWITCH_FLUSHING) {
    return GST_FLOW_FLUSHING;
  }
  if (pulled == GST_LP_MODERATION_SWITCH_EOS) {
    return GST_FLOW_EOS;
  }
  livepipe::MiniPtr<GstCaps> owned_caps(caps);
  if (caps && (!self->state->caps || !gst_caps_is_equal(self->state->caps.get(), caps))) {
    self->state->caps = livepipe::ref_mini(caps);
    if (!gst_base_src_set_caps(GST_BASE_SRC(self), caps)) {
      gst_buffer_unref(buffer);
      return GST_FLOW_NOT_NEGOTIATED;
    }
  }
  *out = buffer;
  return GST_FLOW_OK;
}

static gboolean gst_lp_moderation_tap_unlock(GstBaseSrc *src) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(src);
  std::string error;
  if (GstLpModerationSwitch *moderation_switch = find_switch(self, &error)) {
    gst_lp_moderation_switch_set_tap_flushing(moderation_switch, TRUE);
    gst_object_unref(moderation_switch);
  }
  return TRUE;
}

static gboolean gst_lp_moderation_tap_unlock_stop(GstBaseSrc *src) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(src);
  std::string error;
  if (GstLpModerationSwitch *moderation_switch = find_switch(self, &error)) {
    gst_lp_moderation_switch_set_tap_flushing(moderation_switch, FALSE);
    gst_object_unref(moderation_switch);
  }
  return TRUE;
}

static gboolean gst_lp_moderation_tap_start(GstBaseSrc *src) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(src);
  self->state->caps.reset();
  g_weak_ref_set(&self->state->found, nullptr);
  return TRUE;
}

// Caps come with the frames (gst_base_src_set_caps in create).
static gboolean gst_lp_moderation_tap_negotiate(GstBaseSrc *) {
  return TRUE;
}

static void gst_lp_moderation_tap_set_property(GObject *object, guint prop_id, const GValue *value,
                                               GParamSpec *pspec) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(object);
  switch (prop_id) {
    case PROP_SWITCH: {
      livepipe::ObjectLocker lock(self);
      self->state->switch_name = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderation_tap_get_property(GObject *object, guint prop_id, GValue *value,
                                               GParamSpec *pspec) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(object);
  switch (prop_id) {
    case PROP_SWITCH: {
      livepipe::ObjectLocker lock(self);
      g_value_set_string(value, self->state->switch_name.c_str());
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderation_tap_finalize(GObject *object) {
  GstLpModerationTap *self = GST_LP_MODERATION_TAP(object);
  g_weak_ref_clear(&self->state->found);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_moderation_tap_parent_class)->finalize(object);
}

static void gst_lp_moderation_tap_class_init(GstLpModerationTapClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS(klass);
  GstPushSrcClass *push_class = GST_PUSH_SRC_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_lp_moderation_tap_debug, "lpmoderationtap", 0,
                          "livepipe passthrough moderation, snapshot path");

  gobject_class->set_property = gst_lp_moderation_tap_set_property;
  gobject_class->get_property = gst_lp_moderation_tap_get_property;
  gobject_class->finalize = gst_lp_moderation_tap_finalize;

  g_object_class_install_property(
      gobject_class, PROP_SWITCH,
      g_param_spec_string("switch", "Switch",
                          "Name of the lpmoderationswitch (in the same pipeline) whose frames "
                          "to decode for the moderator",
                          "",
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_set_static_metadata(
      element_class, "livepipe moderation tap", "Source/Video",
      "The frames an lpmoderationswitch selects for its moderator to decode",
      "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &src_template);

  base_class->start = GST_DEBUG_FUNCPTR(gst_lp_moderation_tap_start);
  base_class->unlock = GST_DEBUG_FUNCPTR(gst_lp_moderation_tap_unlock);
  base_class->unlock_stop = GST_DEBUG_FUNCPTR(gst_lp_moderation_tap_unlock_stop);
  base_class->negotiate = GST_DEBUG_FUNCPTR(gst_lp_moderation_tap_negotiate);
  push_class->create = GST_DEBUG_FUNCPTR(gst_lp_moderation_tap_create);
}

static void gst_lp_moderation_tap_init(GstLpModerationTap *self) {
  self->state = new TapState();
  g_weak_ref_init(&self->state->found, nullptr);
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}
