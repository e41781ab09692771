#include "jpegencoder.h"

#include <gst/app/app.h>
#include <gst/video/video.h>

#include <cstring>

namespace livepipe::moderation {

JpegEncoder::~JpegEncoder() {
  shut_down();
}

void JpegEncoder::shut_down() {
  if (pipeline_) {
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    pipeline_.reset();
  }
  appsrc_ = jpegenc_ = appsink_ = nullptr;
  width_ = height_ = 0;
}

bool JpegEncoder::rebuild(int width, int height, std::string *error) {
  shut_down();
  auto pipeline = sink(gst_pipeline_new("lpmoderator-snapshot"));
  GstElement *src = gst_element_factory_make("appsrc", nullptr);
  GstElement *enc = gst_element_factory_make("jpegenc", nullptr);
  GstElement *out = gst_element_factory_make("appsink", nullptr);
  if (!src || !enc || !out) {
    for (GstElement *e : {src, enc, out}) {
      if (e) {
        gst_object_unref(gst_object_ref_sink(e));
      }
    }
    *error = "jpegenc, appsrc or appsink is missing (install gstreamer1.0-plugins-good and -base)";
    return false;
  }
  gst_bin_add_many(GST_BIN(pipeline.get()), src, enc, out, nullptr);
  if (!gst_element_link_many(src, enc, out, nullptr)) {
    *error = "cannot link appsrc ! jpegenc ! appsink";
    return false;
  }
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                      G_TYPE_INT, width, "height", G_TYPE_INT, height, "framerate",
                                      GST_TYPE_FRACTION, 0, 1, nullptr);
  g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, "max-buffers", guint64{2}, nullptr);
  gst_caps_unref(caps);
  g_object_set(out, "sync", FALSE, "max-buffers", 2u, nullptr);
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    *error = "the snapshot encoder pipeline does not start";
    return false;
  }
  pipeline_ = std::move(pipeline);
  appsrc_ = src;
  jpegenc_ = enc;
  appsink_ = out;
  width_ = width;
  height_ = height;
  return true;
}

GBytes *JpegEncoder::encode(const std::vector<uint8_t> &i420, int width, int height, int quality,
                            std::string *error) {
  if ((width != width_ || height != height_ || !pipeline_) && !rebuild(width, height, error)) {
    return nullptr;
  }
  g_object_set(jpegenc_, "quality", quality, nullptr);
  GstBuffer *buffer = gst_buffer_new_memdup(i420.data(), i420.size());
  // Timestamps only need to increase; the encoder keeps no timing state.
  GST_BUFFER_PTS(buffer) = frames_ * GST_SECOND;
  GST_BUFFER_DURATION(buffer) = GST_SECOND;
  ++frames_;
  if (gst_app_src_push_buffer(GST_APP_SRC(appsrc_), buffer) != GST_FLOW_OK) {
    *error = "the snapshot encoder refused a frame";
    shut_down();
    return nullptr;
  }
  GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(appsink_), 2 * GST_SECOND);
  if (!sample) {
    *error = "the snapshot encoder produced no JPEG within 2 s";
    shut_down();
    return nullptr;
  }
  GstBuffer *jpeg = gst_sample_get_buffer(sample);
  GstMapInfo map;
  GBytes *bytes = nullptr;
  if (jpeg && gst_buffer_map(jpeg, &map, GST_MAP_READ)) {
    bytes = g_bytes_new(map.data, map.size);
    gst_buffer_unmap(jpeg, &map);
  } else {
    *error = "the snapshot encoder produced an unreadable buffer";
  }
  gst_sample_unref(sample);
  return bytes;
}

}  // namespace livepipe::moderation
