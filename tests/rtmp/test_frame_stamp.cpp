// The frame-embedded timestamp of the RTMP/WHEP latency benchmark
// (bench/rtmp/frame_stamp.h): drawn values read back, through noise, blur,
// a squeezed luma range and a real H.264 encode and decode at a low bitrate;
// a damaged stamp or a frame without one is refused, never misread.
#define BOOST_TEST_MODULE frame_stamp
#include <boost/test/unit_test.hpp>

#include "frame_stamp.h"
#include "gst_fixture.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using namespace livepipe::bench;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

struct Plane {
  int width, height, stride;
  std::vector<uint8_t> pixels;
  Plane(int w, int h, int s, uint8_t fill = 60) : width(w), height(h), stride(s) {
    pixels.assign(static_cast<size_t>(s) * h, fill);
  }
  uint8_t *data() { return pixels.data(); }
  uint8_t &at(int x, int y) { return pixels[static_cast<size_t>(y) * stride + x]; }
  std::optional<uint64_t> read() const { return read_stamp(pixels.data(), stride, width, height); }
};

const uint64_t kValues[] = {0, 1, kStampValueMask, 0x5555555555 & kStampValueMask,
                            0xaaaaaaaaaa & kStampValueMask,
                            // Wall-clock milliseconds of 2026-11-24.
                            uint64_t{1795996800000} & kStampValueMask};

}  // namespace

BOOST_AUTO_TEST_CASE(drawn_values_read_back) {
  for (uint64_t value : kValues) {
    for (auto [w, h, s] : {std::tuple{128, 112, 128}, {640, 360, 640}, {641, 361, 704}}) {
      Plane plane(w, h, s);
      BOOST_REQUIRE(draw_stamp(plane.data(), s, w, h, value));
      auto read = plane.read();
      BOOST_REQUIRE(read.has_value());
      BOOST_TEST(*read == value);
    }
  }
  // Only the low 40 bits are carried.
  Plane plane(320, 240, 320);
  draw_stamp(plane.data(), 320, 320, 240, (uint64_t{7} << 40) | 1234);
  BOOST_TEST(plane.read().value_or(0) == 1234u);
}

BOOST_AUTO_TEST_CASE(the_stamp_stays_in_its_corner) {
  Plane plane(320, 240, 384, 77);
  draw_stamp(plane.data(), 384, 320, 240, 42);
  for (int y = 0; y < 240; ++y) {
    for (int x = 0; x < 384; ++x) {
      if (x >= kStampWidth || y >= kStampHeight) {
        BOOST_REQUIRE(plane.at(x, y) == 77);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(planes_too_small_are_refused) {
  Plane narrow(kStampWidth - 1, 200, kStampWidth - 1);
  BOOST_TEST(!draw_stamp(narrow.data(), narrow.stride, narrow.width, narrow.height, 1));
  BOOST_TEST(!narrow.read().has_value());
  Plane low(200, kStampHeight - 1, 200);
  BOOST_TEST(!draw_stamp(low.data(), 200, 200, kStampHeight - 1, 1));
  BOOST_TEST(!low.read().has_value());
  Plane plane(200, 200, 200);
  BOOST_TEST(!draw_stamp(plane.data(), 199, 200, 200, 1));
  BOOST_TEST(!read_stamp(plane.data(), 199, 200, 200).has_value());
  BOOST_TEST(!draw_stamp(nullptr, 200, 200, 200, 1));
  BOOST_TEST(!read_stamp(nullptr, 200, 200, 200).has_value());
}

BOOST_AUTO_TEST_CASE(reads_through_noise) {
  std::mt19937 random(6);
  std::normal_distribution<double> noise(0, 25);
  for (uint64_t value : kValues) {
    Plane plane(320, 240, 320);
    draw_stamp(plane.data(), 320, 320, 240, value);
    for (auto &p : plane.pixels) {
      p = static_cast<uint8_t>(std::clamp(p + noise(random), 0.0, 255.0));
    }
    BOOST_TEST(plane.read().value_or(~uint64_t{0}) == value);
  }
}

BOOST_AUTO_TEST_CASE(reads_through_blur_and_a_squeezed_range) {
  for (uint64_t value : kValues) {
    Plane plane(320, 240, 320);
    draw_stamp(plane.data(), 320, 320, 240, value);
    // A 9x9 box blur: each block's edges smear into its neighbours.
    Plane blurred = plane;
    for (int y = 0; y < 240; ++y) {
      for (int x = 0; x < 320; ++x) {
        int sum = 0, n = 0;
        for (int dy = -4; dy <= 4; ++dy) {
          for (int dx = -4; dx <= 4; ++dx) {
            int xx = x + dx, yy = y + dy;
            if (xx >= 0 && yy >= 0 && xx < 320 && yy < 240) {
              sum += plane.at(xx, yy);
              ++n;
            }
          }
        }
        blurred.at(x, y) = static_cast<uint8_t>(sum / n);
      }
    }
    BOOST_TEST(blurred.read().value_or(~uint64_t{0}) == value);
    // Levels pulled towards grey (a washed-out scaler or a levels mismatch).
    for (auto &p : plane.pixels) {
      p = static_cast<uint8_t>(64 + (p - 16) * 0.55);
    }
    BOOST_TEST(plane.read().value_or(~uint64_t{0}) == value);
  }
}

BOOST_AUTO_TEST_CASE(a_flipped_block_is_refused_not_misread) {
  for (int block = 0; block < kStampColumns * kStampRows; ++block) {
    Plane plane(320, 240, 320);
    draw_stamp(plane.data(), 320, 320, 240, 0x123456789a);
    int x0 = (block % kStampColumns) * kStampBlock;
    int y0 = (block / kStampColumns) * kStampBlock;
    for (int y = y0; y < y0 + kStampBlock; ++y) {
      for (int x = x0; x < x0 + kStampBlock; ++x) {
        plane.at(x, y) = plane.at(x, y) > 128 ? 16 : 235;
      }
    }
    BOOST_TEST(!plane.read().has_value(), "block " << block);
  }
}

BOOST_AUTO_TEST_CASE(frames_without_a_stamp_are_refused) {
  for (uint8_t fill : {0, 16, 128, 235, 255}) {
    BOOST_TEST(!Plane(320, 240, 320, fill).read().has_value(), "fill " << int(fill));
  }
  // Random blocks: a CRC-16 lets about one in 65536 through; 2000 frames with
  // this seed let none through.
  std::mt19937 random(2026);
  int misread = 0;
  for (int frame = 0; frame < 2000; ++frame) {
    Plane plane(kStampWidth, kStampHeight, kStampWidth);
    for (int block = 0; block < kStampColumns * kStampRows; ++block) {
      uint8_t level = random() & 1 ? 235 : 16;
      int x0 = (block % kStampColumns) * kStampBlock;
      int y0 = (block / kStampColumns) * kStampBlock;
      for (int y = y0; y < y0 + kStampBlock; ++y) {
        std::fill_n(&plane.at(x0, y), kStampBlock, level);
      }
    }
    misread += plane.read().has_value();
  }
  BOOST_TEST(misread == 0);
}

BOOST_AUTO_TEST_CASE(ages_cross_the_wrap_of_40_bits) {
  const int64_t now = 1795996800123;
  BOOST_TEST(stamp_age_ms(static_cast<uint64_t>(now - 250) & kStampValueMask, now) == 250);
  BOOST_TEST(stamp_age_ms(static_cast<uint64_t>(now + 40) & kStampValueMask, now) == -40);
  BOOST_TEST(stamp_age_ms(kStampValueMask - 9, kStampValueMask + 1 + 20) == 30);
  BOOST_TEST(stamp_age_ms(5, static_cast<int64_t>(kStampValueMask)) == -6);
}

BOOST_AUTO_TEST_CASE(crc16_is_ccitt_false) {
  const char *check = "123456789";
  BOOST_TEST(stamp_crc16(reinterpret_cast<const uint8_t *>(check), 9) == 0x29b1);
}

// What the benchmark does to a stamp: a moving test pattern behind it, H.264
// at a bitrate far below the benchmark's, decoded again.
BOOST_AUTO_TEST_CASE(reads_every_frame_after_h264_at_200_kbps) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc pattern=ball num-buffers=60 ! video/x-raw,format=I420,width=640,height=360,"
      "framerate=30/1 ! identity name=stamp ! x264enc tune=zerolatency speed-preset=ultrafast "
      "bframes=0 bitrate=200 key-int-max=60 ! avdec_h264 ! video/x-raw,format=I420 ! "
      "appsink name=out sync=false",
      &error);
  BOOST_REQUIRE_MESSAGE(pipeline, (error ? error->message : "no pipeline"));
  g_clear_error(&error);
  gst_object_ref_sink(pipeline);
  GstElement *stamp = gst_bin_get_by_name(GST_BIN(pipeline), "stamp");
  GstPad *pad = gst_element_get_static_pad(stamp, "src");
  // Frame n carries 1000 + 37 n.
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *info, gpointer) -> GstPadProbeReturn {
        GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
        GST_PAD_PROBE_INFO_DATA(info) = buffer;
        GstMapInfo map;
        if (gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
          uint64_t n = GST_BUFFER_PTS(buffer) / (GST_SECOND / 30);
          draw_stamp(map.data, 640, 640, 360, 1000 + 37 * n);
          gst_buffer_unmap(buffer, &map);
        }
        return GST_PAD_PROBE_OK;
      },
      nullptr, nullptr);
  gst_object_unref(pad);
  gst_object_unref(stamp);
  GstElement *out = gst_bin_get_by_name(GST_BIN(pipeline), "out");
  BOOST_REQUIRE(gst_element_set_state(pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  std::vector<uint64_t> read;
  int unreadable = 0;
  while (GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(out), 10 * GST_SECOND)) {
    GstVideoInfo info;
    BOOST_REQUIRE(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
    GstVideoFrame frame;
    BOOST_REQUIRE(gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ));
    auto value = read_stamp(static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)),
                            GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0), GST_VIDEO_FRAME_WIDTH(&frame),
                            GST_VIDEO_FRAME_HEIGHT(&frame));
    gst_video_frame_unmap(&frame);
    gst_sample_unref(sample);
    if (value) {
      read.push_back(*value);
    } else {
      ++unreadable;
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(out);
  gst_object_unref(pipeline);
  BOOST_TEST(unreadable == 0);
  BOOST_REQUIRE(read.size() == 60u);
  for (size_t n = 0; n < read.size(); ++n) {
    BOOST_TEST(read[n] == 1000 + 37 * n);
  }
}
