// Encodes small I420 snapshots to JPEG with GStreamer's jpegenc in a private
// appsrc ! jpegenc ! appsink pipeline, kept between snapshots of one size.
// Used from lpmoderator's worker thread only.
#pragma once

#include "util/gstptr.h"

#include <gst/gst.h>

#include <cstdint>
#include <string>
#include <vector>

namespace livepipe::moderation {

class JpegEncoder {
 public:
  JpegEncoder() = default;
  ~JpegEncoder();
  JpegEncoder(const JpegEncoder &) = delete;
  JpegEncoder &operator=(const JpegEncoder &) = delete;

  // `i420` is contiguous I420 of width x height. Returns the JPEG, or nullptr
  // with `error` set.
  GBytes *encode(const std::vector<uint8_t> &i420, int width, int height, int quality,
                 std::string *error);

 private:
  bool rebuild(int width, int height, std::string *error);
  void shut_down();

  GstPtr<GstElement> pipeline_;
  GstElement *appsrc_ = nullptr;   // owned by pipeline_
  GstElement *jpegenc_ = nullptr;  // owned by pipeline_
  GstElement *appsink_ = nullptr;  // owned by pipeline_
  int width_ = 0;
  int height_ = 0;
  uint64_t frames_ = 0;
};

}  // namespace livepipe::moderation
