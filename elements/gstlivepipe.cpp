#include "beauty/gstlpbeauty.h"
#include "record/gstlprecordbin.h"
#include "moderation/gstlpmoderator.h"
#include "moderation/gstlpmoderatoraudio.h"
#include "moderation/gstlpmoderationswitch.h"
#include "moderation/gstlpmoderationtap.h"

#include <gst/gst.h>

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(lpbeauty, plugin);
  ok |= GST_ELEMENT_REGISTER(lprecordbin, plugin);
  ok |= GST_ELEMENT_REGISTER(lpmoderator, plugin);
  ok |= GST_ELEMENT_REGISTER(lpmoderatoraudio, plugin);
  ok |= GST_ELEMENT_REGISTER(lpmoderationswitch, plugin);
  ok |= GST_ELEMENT_REGISTER(lpmoderationtap, plugin);
  return ok;
}

#define PACKAGE "livepipe"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, livepipe,
                  "livepipe: live-streaming elements (beauty filter, moderation, recording)",
                  plugin_init, LIVEPIPE_VERSION, "LGPL", "livepipe", "https://livepipe.dev")
