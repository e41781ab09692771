/**
 * SECTION:element-lpbeauty
 * @title: lpbeauty
 *
 * Skin smoothing and whitening for live video. Smoothing is an
 * edge-preserving guided filter on luma, blended in by a soft skin-tone mask
 * computed from Cb/Cr so hair, eyes, background and edges keep their detail;
 * whitening is a tone curve that lifts shadows and mid-tones without clipping
 * highlights. Works in place on I420 and NV12; put videoconvert in front for
 * other formats. With smoothing=0 and whitening=0 every byte passes unchanged.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! lpbeauty smoothing=0.7 whitening=0.3 ! autovideosink
 * ]|
 */
#include "gstlpbeauty.h"

#include "beautycore.h"
#include "util/gstptr.h"

#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC(gst_lp_beauty_debug);
#define GST_CAT_DEFAULT gst_lp_beauty_debug

namespace {

constexpr double DEFAULT_PROP_SMOOTHING = 0.5;
constexpr double DEFAULT_PROP_WHITENING = 0.2;
constexpr gboolean DEFAULT_PROP_SKIN_ONLY = TRUE;
constexpr guint DEFAULT_PROP_RADIUS = 8;
constexpr guint DEFAULT_PROP_N_THREADS = 1;
constexpr guint MAX_N_THREADS = 64;

enum {
  PROP_0,
  PROP_SMOOTHING,
  PROP_WHITENING,
  PROP_SKIN_ONLY,
  PROP_RADIUS,
  PROP_N_THREADS,
};

// C++ state: properties (guarded by the object lock) and the processor that
// only the streaming thread touches.
struct BeautyState {
  livepipe::beauty::Params params{DEFAULT_PROP_SMOOTHING, DEFAULT_PROP_WHITENING,
                                  DEFAULT_PROP_SKIN_ONLY != FALSE,
                                  static_cast<int>(DEFAULT_PROP_RADIUS)};
  guint n_threads = DEFAULT_PROP_N_THREADS;
  livepipe::beauty::Processor processor;
};

}  // namespace

struct _GstLpBeauty {
  GstVideoFilter parent;
  BeautyState *state;
};

#define VIDEO_CAPS GST_VIDEO_CAPS_MAKE("{ I420, NV12 }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));

G_DEFINE_TYPE(GstLpBeauty, gst_lp_beauty, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(lpbeauty, "lpbeauty", GST_RANK_NONE, GST_TYPE_LP_BEAUTY)

// Passthrough avoids a copy of read-only buffers when the filter would
// change nothing; basetransform picks it up before the next buffer.
static void update_passthrough(GstLpBeauty *self) {
  gboolean identity;
  {
    livepipe::ObjectLocker lock(self);
    identity = livepipe::beauty::Processor::is_identity(self->state->params);
  }
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), identity);
}

static void gst_lp_beauty_set_property(GObject *object, guint prop_id, const GValue *value,
                                       GParamSpec *pspec) {
  GstLpBeauty *self = GST_LP_BEAUTY(object);
  {
    livepipe::ObjectLocker lock(self);
    auto &params = self->state->params;
    switch (prop_id) {
      case PROP_SMOOTHING:
        params.smoothing = g_value_get_double(value);
        break;
      case PROP_WHITENING:
        params.whitening = g_value_get_double(value);
        break;
      case PROP_SKIN_ONLY:
        params.skin_only = g_value_get_boolean(value);
        break;
      case PROP_RADIUS:
        params.radius = static_cast<int>(g_value_get_uint(value));
        break;
      case PROP_N_THREADS:
        self->state->n_threads = g_value_get_uint(value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
  }
  if (prop_id == PROP_SMOOTHING || prop_id == PROP_WHITENING) {
    update_passthrough(self);
  }
}

static void gst_lp_beauty_get_property(GObject *object, guint prop_id, GValue *value,
                                       GParamSpec *pspec) {
  GstLpBeauty *self = GST_LP_BEAUTY(object);
  livepipe::ObjectLocker lock(self);
  const auto &params = self->state->params;
  switch (prop_id) {
    case PROP_SMOOTHING:
      g_value_set_double(value, params.smoothing);
      break;
    case PROP_WHITENING:
      g_value_set_double(value, params.whitening);
      break;
    case PROP_SKIN_ONLY:
      g_value_set_boolean(value, params.skin_only);
      break;
    case PROP_RADIUS:
      g_value_set_uint(value, static_cast<guint>(params.radius));
      break;
    case PROP_N_THREADS:
      g_value_set_uint(value, self->state->n_threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_beauty_before_transform(GstBaseTransform *trans, GstBuffer *buffer) {
  // Apply controller curves (GstController bindings) for this buffer's time.
  GstClockTime timestamp = GST_BUFFER_TIMESTAMP(buffer);
  GstClockTime stream_time =
      gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, timestamp);
  if (GST_CLOCK_TIME_IS_VALID(stream_time)) {
    gst_object_sync_values(GST_OBJECT(trans), stream_time);
  }
}

static GstFlowReturn gst_lp_beauty_transform_frame_ip(GstVideoFilter *filter,
                                                      GstVideoFrame *frame) {
  GstLpBeauty *self = GST_LP_BEAUTY(filter);
  livepipe::beauty::Params params;
  guint n_threads;
  {
    livepipe::ObjectLocker lock(self);
    params = self->state->params;
    n_threads = self->state->n_threads;
  }
  if (livepipe::beauty::Processor::is_identity(params) ||
      gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(filter))) {
    return GST_FLOW_OK;
  }
  auto &processor = self->state->processor;
  processor.set_threads(static_cast<int>(n_threads));

  livepipe::beauty::Frame image;
  image.width = GST_VIDEO_FRAME_WIDTH(frame);
  image.height = GST_VIDEO_FRAME_HEIGHT(frame);
  image.y = static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 0));
  image.y_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0);
  image.u = static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 1));
  image.u_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 1);
  if (GST_VIDEO_FRAME_FORMAT(frame) == GST_VIDEO_FORMAT_I420) {
    image.v = static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 2));
    image.v_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 2);
  }
  processor.process(image, params);
  return GST_FLOW_OK;
}

static void gst_lp_beauty_finalize(GObject *object) {
  GstLpBeauty *self = GST_LP_BEAUTY(object);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_beauty_parent_class)->finalize(object);
}

static void gst_lp_beauty_class_init(GstLpBeautyClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_lp_beauty_debug, "lpbeauty", 0, "livepipe beauty filter");

  gobject_class->set_property = gst_lp_beauty_set_property;
  gobject_class->get_property = gst_lp_beauty_get_property;
  gobject_class->finalize = gst_lp_beauty_finalize;

  const auto live_flags =
      static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_CONTROLLABLE |
                               GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_SMOOTHING,
      g_param_spec_double("smoothing", "Smoothing",
                          "Strength of the edge-preserving skin smoothing (0 = off)", 0.0, 1.0,
                          DEFAULT_PROP_SMOOTHING, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_WHITENING,
      g_param_spec_double("whitening", "Whitening",
                          "Strength of the brightening tone curve (0 = off)", 0.0, 1.0,
                          DEFAULT_PROP_WHITENING, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_SKIN_ONLY,
      g_param_spec_boolean("skin-only", "Skin only",
                           "Limit the effect to skin tones (a soft mask from Cb/Cr)",
                           DEFAULT_PROP_SKIN_ONLY, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_RADIUS,
      g_param_spec_uint("radius", "Radius", "Smoothing window radius in pixels", 1,
                        livepipe::beauty::kMaxRadius, DEFAULT_PROP_RADIUS, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_N_THREADS,
      g_param_spec_uint(
          "n-threads", "Threads",
          "Worker threads per frame (0 = one per core, 1 = the streaming thread only)", 0,
          MAX_N_THREADS, DEFAULT_PROP_N_THREADS, live_flags));

  gst_element_class_set_static_metadata(
      element_class, "livepipe beauty filter", "Filter/Effect/Video",
      "Edge-preserving skin smoothing and whitening, in place on I420 and NV12",
      "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  transform_class->before_transform = GST_DEBUG_FUNCPTR(gst_lp_beauty_before_transform);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_lp_beauty_transform_frame_ip);
}

static void gst_lp_beauty_init(GstLpBeauty *self) {
  self->state = new BeautyState();
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
