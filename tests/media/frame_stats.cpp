// Decodes a recorded video file and prints one line per frame:
//   TIME_MS MEAN_LUMA TILE_DEVIATION
// TILE_DEVIATION is the mean absolute deviation of the luma from its tile's
// mean, over tiles of lpmoderator's blur size (the shorter side / 16, even,
// at least 8) aligned at the top left: near 0 for a pixelated frame, large
// for a detailed one. A black frame has a low MEAN_LUMA.
//   frame_stats FILE
#include <gst/app/app.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: frame_stats FILE\n");
    return 2;
  }
  gchar *uri = gst_filename_to_uri(argv[1], nullptr);
  std::string description = std::string("uridecodebin uri=\"") + (uri ? uri : "") +
                            "\" ! videoconvert ! video/x-raw,format=GRAY8 ! "
                            "appsink name=out sync=false";
  g_free(uri);
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    std::fprintf(stderr, "frame_stats: %s\n", error ? error->message : "no pipeline");
    return 1;
  }
  g_clear_error(&error);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "out");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  int frames = 0;
  // A bounded pull: a recording of a few minutes at most.
  for (int i = 0; i < 100000; ++i) {
    GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND);
    if (!sample) {
      break;
    }
    GstVideoInfo info;
    GstBuffer *buffer = gst_sample_get_buffer(sample);
    GstVideoFrame frame;
    if (gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) &&
        gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) {
      const int width = GST_VIDEO_FRAME_WIDTH(&frame);
      const int height = GST_VIDEO_FRAME_HEIGHT(&frame);
      const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
      const auto *luma = static_cast<const guint8 *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
      const int tile = std::max(8, (std::min(width, height) / 16) & ~1);
      double sum = 0, deviation = 0;
      for (int ty = 0; ty < height; ty += tile) {
        for (int tx = 0; tx < width; tx += tile) {
          const int y1 = std::min(ty + tile, height), x1 = std::min(tx + tile, width);
          double tile_sum = 0;
          for (int y = ty; y < y1; ++y) {
            for (int x = tx; x < x1; ++x) {
              tile_sum += luma[y * stride + x];
            }
          }
          const double mean = tile_sum / ((y1 - ty) * (x1 - tx));
          for (int y = ty; y < y1; ++y) {
            for (int x = tx; x < x1; ++x) {
              deviation += std::abs(luma[y * stride + x] - mean);
            }
          }
          sum += tile_sum;
        }
      }
      const double pixels = static_cast<double>(width) * height;
      std::printf("%.0f %.1f %.2f\n",
                  GST_BUFFER_PTS_IS_VALID(buffer)
                      ? static_cast<double>(GST_BUFFER_PTS(buffer)) / GST_MSECOND
                      : -1.0,
                  sum / pixels, deviation / pixels);
      gst_video_frame_unmap(&frame);
      ++frames;
    }
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return frames > 0 ? 0 : 1;
}
