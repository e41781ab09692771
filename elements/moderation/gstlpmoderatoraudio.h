#pragma once

#include <gst/audio/gstaudiofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_MODERATOR_AUDIO (gst_lp_moderator_audio_get_type())
G_DECLARE_FINAL_TYPE(GstLpModeratorAudio, gst_lp_moderator_audio, GST, LP_MODERATOR_AUDIO,
                     GstAudioFilter)

GST_ELEMENT_REGISTER_DECLARE(lpmoderatoraudio);

G_END_DECLS
