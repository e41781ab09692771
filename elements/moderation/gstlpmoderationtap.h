#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_MODERATION_TAP (gst_lp_moderation_tap_get_type())
G_DECLARE_FINAL_TYPE(GstLpModerationTap, gst_lp_moderation_tap, GST, LP_MODERATION_TAP, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE(lpmoderationtap);

G_END_DECLS
