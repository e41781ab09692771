#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_MODERATION_SWITCH (gst_lp_moderation_switch_get_type())
G_DECLARE_FINAL_TYPE(GstLpModerationSwitch, gst_lp_moderation_switch, GST, LP_MODERATION_SWITCH,
                     GstBin)

GST_ELEMENT_REGISTER_DECLARE(lpmoderationswitch);

// For lpmoderationtap, the snapshot path's source: waits for the next frame
// to decode. FRAME sets `buffer` (timestamps in running time) and `caps`
// (both for the caller); FLUSHING when the switch or the tap stops; EOS
// when the publisher's stream ended.
typedef enum {
  GST_LP_MODERATION_SWITCH_FRAME,
  GST_LP_MODERATION_SWITCH_FLUSHING,
  GST_LP_MODERATION_SWITCH_EOS,
} GstLpModerationSwitchPull;

GstLpModerationSwitchPull gst_lp_moderation_switch_pull(GstLpModerationSwitch *self,
                                                        GstBuffer **buffer, GstCaps **caps);
// Wakes a waiting pull (TRUE) and makes pulls return FLUSHING until FALSE.
void gst_lp_moderation_switch_set_tap_flushing(GstLpModerationSwitch *self, gboolean flushing);

G_END_DECLS
