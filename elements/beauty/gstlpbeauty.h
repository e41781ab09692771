#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_BEAUTY (gst_lp_beauty_get_type())
G_DECLARE_FINAL_TYPE(GstLpBeauty, gst_lp_beauty, GST, LP_BEAUTY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(lpbeauty);

G_END_DECLS
