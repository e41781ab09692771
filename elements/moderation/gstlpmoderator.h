#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_MODERATOR (gst_lp_moderator_get_type())
G_DECLARE_FINAL_TYPE(GstLpModerator, gst_lp_moderator, GST, LP_MODERATOR, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(lpmoderator);

// The verdict in force at this moment (expiry taken into account):
// 0 allow, 1 blur, 2 block, 3 end. Thread-safe; lpmoderatoraudio polls it.
gint gst_lp_moderator_get_action(GstLpModerator *self);

// The lpmoderator named `name` in the bins around `element` (its parent
// upwards), with a reference for the caller; NULL when there is none, with
// the reason in `error` (free it with g_free).
GstLpModerator *gst_lp_moderator_find(GstElement *element, const gchar *name, gchar **error);

G_END_DECLS
