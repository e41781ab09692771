/**
 * SECTION:element-lpmoderatoraudio
 * @title: lpmoderatoraudio
 *
 * The audio half of moderation: follows the lpmoderator named by `moderator`
 * (in the same pipeline) and replaces audio with silence while that
 * moderator's verdict is block, and ends the audio branch (EOS) on end.
 * Allow and blur pass audio untouched.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! lpmoderator name=mod hook-uri=http://127.0.0.1:8080/ \
 *   ! autovideosink audiotestsrc is-live=true ! lpmoderatoraudio moderator=mod ! autoaudiosink
 * ]|
 */
#include "gstlpmoderatoraudio.h"

#include "gstlpmoderator.h"
#include "util/gstptr.h"

#include <gst/audio/audio.h>

#include <string>

GST_DEBUG_CATEGORY_STATIC(gst_lp_moderator_audio_debug);
#define GST_CAT_DEFAULT gst_lp_moderator_audio_debug

namespace {

enum { PROP_0, PROP_MODERATOR };

constexpr gint kActionBlock = 2;
constexpr gint kActionEnd = 3;

struct AudioState {
  std::string moderator_name;  // guarded by the object lock
  GWeakRef moderator;          // resolved on the first buffer
  bool resolved = false;
  std::string error;  // why the moderator could not be found
  gint action = 0;    // for the buffer being processed
  bool ended = false;
};

}  // namespace

struct _GstLpModeratorAudio {
  GstAudioFilter parent;
  AudioState *state;
};

G_DEFINE_TYPE(GstLpModeratorAudio, gst_lp_moderator_audio, GST_TYPE_AUDIO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(lpmoderatoraudio, "lpmoderatoraudio", GST_RANK_NONE,
                            GST_TYPE_LP_MODERATOR_AUDIO)

static void gst_lp_moderator_audio_set_property(GObject *object, guint prop_id, const GValue *value,
                                                GParamSpec *pspec) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(object);
  switch (prop_id) {
    case PROP_MODERATOR: {
      livepipe::ObjectLocker lock(self);
      self->state->moderator_name = g_value_get_string(value) ? g_value_get_string(value) : "";
      self->state->resolved = false;
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderator_audio_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(object);
  switch (prop_id) {
    case PROP_MODERATOR: {
      livepipe::ObjectLocker lock(self);
      g_value_set_string(value, self->state->moderator_name.c_str());
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

// Finds the named lpmoderator from this element's parent upwards.
static GstLpModerator *find_moderator(GstLpModeratorAudio *self, std::string *error) {
  std::string name;
  {
    livepipe::ObjectLocker lock(self);
    name = self->state->moderator_name;
  }
  gchar *why = nullptr;
  GstLpModerator *found = gst_lp_moderator_find(GST_ELEMENT(self), name.c_str(), &why);
  if (!found) {
    *error = why;
    g_free(why);
  }
  return found;
}

static void gst_lp_moderator_audio_before_transform(GstBaseTransform *trans, GstBuffer *) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(trans);
  AudioState *state = self->state;
  if (!state->resolved) {
    GstLpModerator *found = find_moderator(self, &state->error);
    if (found) {
      g_weak_ref_set(&state->moderator, found);
      gst_object_unref(found);
      state->resolved = true;
      state->error.clear();
    }
  }
  auto *moderator = static_cast<GstLpModerator *>(g_weak_ref_get(&state->moderator));
  state->action = moderator ? gst_lp_moderator_get_action(moderator) : 0;
  if (moderator) {
    gst_object_unref(moderator);
  }
  gst_base_transform_set_passthrough(trans, state->action != kActionBlock);
}

static GstFlowReturn gst_lp_moderator_audio_transform_ip(GstBaseTransform *trans,
                                                         GstBuffer *buffer) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(trans);
  AudioState *state = self->state;
  // After end the audio is dropped rather than refused: GST_FLOW_EOS would
  // travel upstream into what the audio may share with the video (a bundled
  // WebRTC transport) and stop the video before lpmoderator applies end and
  // tells the application.
  if (state->ended) {
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  if (!state->resolved) {
    GST_ELEMENT_ERROR(self, CORE, FAILED, ("lpmoderatoraudio: %s", state->error.c_str()),
                      (nullptr));
    return GST_FLOW_ERROR;
  }
  if (state->action == kActionEnd) {
    state->ended = true;
    gst_pad_push_event(GST_BASE_TRANSFORM_SRC_PAD(trans), gst_event_new_eos());
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  if (state->action == kActionBlock && !gst_base_transform_is_passthrough(trans)) {
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
      gst_audio_format_info_fill_silence(GST_AUDIO_FILTER_INFO(trans)->finfo, map.data, map.size);
      gst_buffer_unmap(buffer, &map);
    }
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_GAP);
  }
  return GST_FLOW_OK;
}

static gboolean gst_lp_moderator_audio_start(GstBaseTransform *trans) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(trans);
  self->state->ended = false;
  self->state->resolved = false;
  g_weak_ref_set(&self->state->moderator, nullptr);
  return TRUE;
}

static void gst_lp_moderator_audio_finalize(GObject *object) {
  GstLpModeratorAudio *self = GST_LP_MODERATOR_AUDIO(object);
  g_weak_ref_clear(&self->state->moderator);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_moderator_audio_parent_class)->finalize(object);
}

static void gst_lp_moderator_audio_class_init(GstLpModeratorAudioClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *transform_class = GST_BASE_TRANSFORM_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_lp_moderator_audio_debug, "lpmoderatoraudio", 0,
                          "livepipe moderation, audio side");

  gobject_class->set_property = gst_lp_moderator_audio_set_property;
  gobject_class->get_property = gst_lp_moderator_audio_get_property;
  gobject_class->finalize = gst_lp_moderator_audio_finalize;

  g_object_class_install_property(
      gobject_class, PROP_MODERATOR,
      g_param_spec_string("moderator", "Moderator",
                          "Name of the lpmoderator (in the same pipeline) whose verdicts "
                          "mute (block) or end this audio",
                          "",
                          static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  GstCaps *caps = gst_caps_from_string(
      GST_AUDIO_CAPS_MAKE(GST_AUDIO_FORMATS_ALL) ", layout = (string) interleaved");
  gst_audio_filter_class_add_pad_templates(GST_AUDIO_FILTER_CLASS(klass), caps);
  gst_caps_unref(caps);

  gst_element_class_set_static_metadata(
      element_class, "livepipe moderator (audio)", "Filter/Effect/Audio",
      "Mutes audio while the named lpmoderator blocks the stream and ends it with the stream",
      "livepipe developers");

  transform_class->start = GST_DEBUG_FUNCPTR(gst_lp_moderator_audio_start);
  transform_class->before_transform = GST_DEBUG_FUNCPTR(gst_lp_moderator_audio_before_transform);
  transform_class->transform_ip = GST_DEBUG_FUNCPTR(gst_lp_moderator_audio_transform_ip);
}

static void gst_lp_moderator_audio_init(GstLpModeratorAudio *self) {
  self->state = new AudioState();
  g_weak_ref_init(&self->state->moderator, nullptr);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}
