// lpbeauty driven through GstHarness, plus checks of the image processing
// against a brute-force reference.
#define BOOST_TEST_MODULE lpbeauty
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "support/synthetic.h"

#include "beautycore.h"

#include <gst/check/gstharness.h>
#include <gst/controller/controller.h>
#include <gst/video/video.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

using livepipe::testing::Planes;

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

GstVideoInfo video_info(GstVideoFormat format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, width, height);
  GST_VIDEO_INFO_FPS_N(&info) = 30;
  GST_VIDEO_INFO_FPS_D(&info) = 1;
  return info;
}

GstBuffer *to_buffer(const Planes &p, const GstVideoInfo &info) {
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  // Fill stride padding with a marker so a filter that writes past the
  // visible width is caught by the byte comparisons.
  gst_buffer_memset(buffer, 0, 0xA5, GST_VIDEO_INFO_SIZE(&info));
  GstVideoFrame frame;
  BOOST_REQUIRE(
      gst_video_frame_map(&frame, const_cast<GstVideoInfo *>(&info), buffer, GST_MAP_WRITE));
  const int cw = p.chroma_width();
  for (int y = 0; y < p.height; ++y) {
    std::memcpy(static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)) +
                    y * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0),
                &p.y[static_cast<size_t>(y) * p.width], p.width);
  }
  for (int cy = 0; cy < p.chroma_height(); ++cy) {
    auto *plane1 = static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 1)) +
                   cy * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 1);
    const uint8_t *u = &p.u[static_cast<size_t>(cy) * cw];
    const uint8_t *v = &p.v[static_cast<size_t>(cy) * cw];
    if (GST_VIDEO_FRAME_FORMAT(&frame) == GST_VIDEO_FORMAT_NV12) {
      for (int cx = 0; cx < cw; ++cx) {
        plane1[2 * cx] = u[cx];
        plane1[2 * cx + 1] = v[cx];
      }
    } else {
      std::memcpy(plane1, u, cw);
      std::memcpy(static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 2)) +
                      cy * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 2),
                  v, cw);
    }
  }
  gst_video_frame_unmap(&frame);
  return buffer;
}

Planes luma_of(GstBuffer *buffer, const GstVideoInfo &info) {
  Planes p;
  p.width = GST_VIDEO_INFO_WIDTH(&info);
  p.height = GST_VIDEO_INFO_HEIGHT(&info);
  p.y.resize(static_cast<size_t>(p.width) * p.height);
  GstVideoFrame frame;
  BOOST_REQUIRE(
      gst_video_frame_map(&frame, const_cast<GstVideoInfo *>(&info), buffer, GST_MAP_READ));
  for (int y = 0; y < p.height; ++y) {
    std::memcpy(&p.y[static_cast<size_t>(y) * p.width],
                static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)) +
                    y * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0),
                p.width);
  }
  gst_video_frame_unmap(&frame);
  return p;
}

std::vector<uint8_t> bytes_of(GstBuffer *buffer) {
  std::vector<uint8_t> bytes(gst_buffer_get_size(buffer));
  gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
  return bytes;
}

// A harness around one lpbeauty with the given caps and properties.
struct Beauty {
  GstHarness *h;
  GstVideoInfo info;
  Beauty(GstVideoFormat format, int width, int height, const std::string &properties = "") {
    GstElement *element = gst_element_factory_make("lpbeauty", nullptr);
    BOOST_REQUIRE_MESSAGE(element, "lpbeauty not found: is GST_PLUGIN_PATH set?");
    gchar **settings = g_strsplit(properties.c_str(), " ", -1);
    for (gchar **setting = settings; *setting; ++setting) {
      gchar **kv = g_strsplit(*setting, "=", 2);
      if (kv[0] && kv[1]) {
        gst_util_set_object_arg(G_OBJECT(element), kv[0], kv[1]);
      }
      g_strfreev(kv);
    }
    g_strfreev(settings);
    gst_object_ref_sink(element);
    h = gst_harness_new_with_element(element, "sink", "src");
    gst_object_unref(element);
    info = video_info(format, width, height);
    GstCaps *caps = gst_video_info_to_caps(&info);
    gst_harness_set_src_caps(h, caps);
  }
  ~Beauty() { gst_harness_teardown(h); }
  GstElement *element() { return GST_ELEMENT(gst_object_ref(h->element)); }
  void set(const char *name, double value) {
    GstElement *e = element();
    g_object_set(e, name, value, nullptr);
    gst_object_unref(e);
  }
  // Pushes `p` and returns the processed buffer (caller owns it).
  GstBuffer *process(const Planes &p, GstClockTime pts = 0) {
    GstBuffer *in = to_buffer(p, info);
    GST_BUFFER_PTS(in) = pts;
    GST_BUFFER_DURATION(in) = GST_SECOND / 30;
    BOOST_REQUIRE_EQUAL(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    BOOST_REQUIRE(out);
    return out;
  }
  Planes process_luma(const Planes &p) {
    GstBuffer *out = process(p);
    Planes result = luma_of(out, info);
    gst_buffer_unref(out);
    return result;
  }
};

struct Stats {
  double mean = 0;
  double stddev = 0;
};

Stats region_stats(const Planes &p, int x0, int x1, int y0, int y1) {
  double sum = 0, sum2 = 0;
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const double v = p.y[static_cast<size_t>(y) * p.width + x];
      sum += v;
      sum2 += v * v;
      ++n;
    }
  }
  Stats s;
  s.mean = sum / n;
  s.stddev = std::sqrt(std::max(0.0, sum2 / n - s.mean * s.mean));
  return s;
}

// 10%-90% rise width (pixels, interpolated) of the row-averaged luma profile
// across a vertical edge near `edge_x`.
double rise_width(const Planes &p, int edge_x, int y0, int y1) {
  const int x0 = edge_x - 24, x1 = edge_x + 24;
  std::vector<double> profile;
  for (int x = x0; x < x1; ++x) {
    double sum = 0;
    for (int y = y0; y < y1; ++y) {
      sum += p.y[static_cast<size_t>(y) * p.width + x];
    }
    profile.push_back(sum / (y1 - y0));
  }
  const double low = std::accumulate(profile.begin(), profile.begin() + 8, 0.0) / 8;
  const double high = std::accumulate(profile.end() - 8, profile.end(), 0.0) / 8;
  auto crossing = [&](double fraction) {
    const double level = low + fraction * (high - low);
    for (size_t i = 1; i < profile.size(); ++i) {
      if (profile[i] >= level && profile[i - 1] < level) {
        return (i - 1) + (level - profile[i - 1]) / (profile[i] - profile[i - 1]);
      }
    }
    return -1000.0;
  };
  return crossing(0.9) - crossing(0.1);
}

double psnr(const Planes &a, const Planes &b, int x0, int x1, int y0, int y1) {
  double se = 0;
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const size_t i = static_cast<size_t>(y) * a.width + x;
      const double d = double(a.y[i]) - double(b.y[i]);
      se += d * d;
      ++n;
    }
  }
  if (se == 0) {
    return 1000.0;
  }
  return 10.0 * std::log10(255.0 * 255.0 / (se / n));
}

Planes random_frame(int width, int height, uint32_t seed) {
  livepipe::testing::FaceLayout layout = livepipe::testing::default_layout(width, height);
  Planes p = livepipe::testing::make_face_frame(layout, seed);
  std::mt19937 rng(seed);
  // Scatter some skin chroma over the whole frame so every path runs.
  for (size_t i = 0; i < p.u.size(); i += 3) {
    p.u[i] = static_cast<uint8_t>(90 + rng() % 30);
    p.v[i] = static_cast<uint8_t>(140 + rng() % 25);
  }
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(quality)

BOOST_AUTO_TEST_CASE(smoothing_removes_noise_keeps_edges_and_background) {
  const int width = 640, height = 360;
  const auto layout = livepipe::testing::default_layout(width, height);
  const Planes input = livepipe::testing::make_face_frame(layout);
  Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "smoothing=1 whitening=0");
  const Planes output = beauty.process_luma(input);

  // Flat skin patches, more than a radius away from the edge and borders.
  for (auto [x0, x1] :
       {std::pair{16, layout.edge_x - 16}, std::pair{layout.edge_x + 16, layout.skin_end_x - 16}}) {
    const Stats before = region_stats(input, x0, x1, 16, height - 16);
    const Stats after = region_stats(output, x0, x1, 16, height - 16);
    BOOST_TEST_MESSAGE("skin noise " << before.stddev << " -> " << after.stddev);
    BOOST_TEST(before.stddev > 7.0);
    BOOST_TEST(after.stddev <= 0.4 * before.stddev);
  }

  const double width_before = rise_width(input, layout.edge_x, 16, height - 16);
  const double width_after = rise_width(output, layout.edge_x, 16, height - 16);
  BOOST_TEST_MESSAGE("edge rise " << width_before << " -> " << width_after);
  BOOST_TEST(width_before > 0.0);
  BOOST_TEST(width_after <= width_before + 1.0);

  const double background = psnr(input, output, layout.skin_end_x + 16, width, 0, height);
  BOOST_TEST_MESSAGE("non-skin PSNR " << background);
  BOOST_TEST(background >= 45.0);
}

BOOST_AUTO_TEST_CASE(whitening_lifts_skin_without_clipping) {
  const int width = 320, height = 180;
  auto layout = livepipe::testing::default_layout(width, height);
  Planes input = livepipe::testing::make_face_frame(layout);
  // A highlight ramp inside the skin region reaching 255.
  for (int y = 0; y < 24; ++y) {
    for (int x = 0; x < layout.skin_end_x; ++x) {
      input.y[static_cast<size_t>(y) * width + x] = static_cast<uint8_t>(240 + (x % 16));
    }
  }
  Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "smoothing=0 whitening=1");
  const Planes output = beauty.process_luma(input);
  const Stats before = region_stats(input, 8, layout.skin_end_x - 8, 32, height - 8);
  const Stats after = region_stats(output, 8, layout.skin_end_x - 8, 32, height - 8);
  BOOST_TEST_MESSAGE("skin mean " << before.mean << " -> " << after.mean);
  BOOST_TEST(after.mean > before.mean + 5.0);
  int newly_clipped = 0, lowered = 0;
  for (size_t i = 0; i < input.y.size(); ++i) {
    newly_clipped += output.y[i] == 255 && input.y[i] != 255;
    lowered += output.y[i] < input.y[i];
  }
  BOOST_TEST(newly_clipped == 0);
  BOOST_TEST(lowered == 0);
  // Non-skin colours are left alone.
  BOOST_TEST(psnr(input, output, layout.skin_end_x + 8, width, 0, height) >= 45.0);
}

BOOST_AUTO_TEST_CASE(skin_only_false_smooths_everything) {
  const int width = 320, height = 180;
  const auto layout = livepipe::testing::default_layout(width, height);
  const Planes input = livepipe::testing::make_face_frame(layout);
  Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "smoothing=1 whitening=0 skin-only=false");
  const Planes output = beauty.process_luma(input);
  const Stats before = region_stats(input, layout.skin_end_x + 16, width - 16, 16, height / 2 - 16);
  const Stats after = region_stats(output, layout.skin_end_x + 16, width - 16, 16, height / 2 - 16);
  BOOST_TEST(after.stddev <= 0.4 * before.stddev);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(behaviour)

BOOST_AUTO_TEST_CASE(zero_strength_is_byte_exact) {
  for (GstVideoFormat format : {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12}) {
    Beauty beauty(format, 641, 361, "smoothing=0 whitening=0");
    const Planes input = random_frame(641, 361, 7);
    GstBuffer *in = to_buffer(input, beauty.info);
    const std::vector<uint8_t> expected = bytes_of(in);
    BOOST_REQUIRE_EQUAL(gst_harness_push(beauty.h, in), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(beauty.h);
    BOOST_TEST(bytes_of(out) == expected);
    gst_buffer_unref(out);
  }
}

BOOST_AUTO_TEST_CASE(processor_identity_touches_nothing) {
  Planes p = random_frame(97, 55, 3);
  const std::vector<uint8_t> before = p.y;
  livepipe::beauty::Processor processor;
  livepipe::beauty::Frame frame{p.width,    p.height,         p.y.data(), p.width,
                                p.u.data(), p.chroma_width(), p.v.data(), p.chroma_width()};
  livepipe::beauty::Params params;
  params.skin_only = false;
  processor.process(frame, params);
  BOOST_TEST(p.y == before);
}

BOOST_AUTO_TEST_CASE(odd_sizes_and_every_format_agree) {
  // I420 and NV12 of the same picture give the same luma, at odd sizes and
  // default (padded) strides, and the stride padding is never written.
  for (auto [width, height] : {std::pair{641, 361}, std::pair{33, 17}, std::pair{5, 3}}) {
    const Planes input = random_frame(width, height, 11);
    Beauty i420(GST_VIDEO_FORMAT_I420, width, height, "smoothing=0.8 whitening=0.4 radius=16");
    Beauty nv12(GST_VIDEO_FORMAT_NV12, width, height, "smoothing=0.8 whitening=0.4 radius=16");
    GstBuffer *a = i420.process(input);
    GstBuffer *b = nv12.process(input);
    const Planes la = luma_of(a, i420.info);
    const Planes lb = luma_of(b, nv12.info);
    BOOST_TEST(la.y == lb.y);
    BOOST_TEST(la.y != input.y);
    // Padding after each luma row keeps the 0xA5 marker.
    const int stride = GST_VIDEO_INFO_PLANE_STRIDE(&i420.info, 0);
    const std::vector<uint8_t> bytes = bytes_of(a);
    for (int y = 0; y < height; ++y) {
      for (int x = width; x < stride; ++x) {
        BOOST_REQUIRE_EQUAL(bytes[static_cast<size_t>(y) * stride + x], 0xA5);
      }
    }
    gst_buffer_unref(a);
    gst_buffer_unref(b);
  }
}

BOOST_AUTO_TEST_CASE(frames_smaller_than_the_radius) {
  for (auto [width, height] : {std::pair{3, 2}, std::pair{1, 1}, std::pair{7, 9}}) {
    const Planes input = random_frame(width, height, 5);
    Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "smoothing=1 whitening=0.5 radius=64");
    const Planes output = beauty.process_luma(input);
    BOOST_TEST(output.y.size() == input.y.size());
  }
}

// Brute force of the documented formula with replicated borders, skin mask
// off: every pixel within 1 of the fast implementation.
BOOST_AUTO_TEST_CASE(matches_brute_force_reference) {
  const int width = 53, height = 41, r = 5;
  const double s = 0.7;
  Planes p = random_frame(width, height, 21);
  std::vector<uint8_t> reference(p.y.size());
  const double sigma = 4.0 + 12.0 * s;
  const double eps = sigma * sigma;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double sum = 0, sum2 = 0;
      for (int dy = -r; dy <= r; ++dy) {
        for (int dx = -r; dx <= r; ++dx) {
          const int yy = std::clamp(y + dy, 0, height - 1);
          const int xx = std::clamp(x + dx, 0, width - 1);
          const double v = p.y[static_cast<size_t>(yy) * width + xx];
          sum += v;
          sum2 += v * v;
        }
      }
      const double n = (2 * r + 1) * (2 * r + 1);
      const double mean = sum / n;
      const double var = std::max(0.0, sum2 / n - mean * mean);
      const double in = p.y[static_cast<size_t>(y) * width + x];
      const double out = in + s * (eps / (var + eps)) * (mean - in);
      reference[static_cast<size_t>(y) * width + x] = static_cast<uint8_t>(out + 0.5);
    }
  }
  for (int threads : {1, 2, 3}) {
    Planes q = p;
    livepipe::beauty::Processor processor;
    processor.set_threads(threads);
    livepipe::beauty::Frame frame{width,      height,           q.y.data(), width,
                                  q.u.data(), q.chroma_width(), q.v.data(), q.chroma_width()};
    processor.process(frame, {s, 0.0, false, r});
    int worst = 0;
    for (size_t i = 0; i < q.y.size(); ++i) {
      worst = std::max(worst, std::abs(int(q.y[i]) - int(reference[i])));
    }
    BOOST_TEST(worst <= 1, "threads=" << threads << " worst difference " << worst);
  }
}

BOOST_AUTO_TEST_CASE(threads_give_identical_results) {
  const Planes input = random_frame(1280, 720, 9);
  Planes reference = input;
  livepipe::beauty::Params params{1.0, 0.5, true, 12};
  {
    livepipe::beauty::Processor processor;
    livepipe::beauty::Frame frame{
        1280, 720, reference.y.data(), 1280, reference.u.data(), 640, reference.v.data(), 640};
    processor.process(frame, params);
  }
  for (int threads : {2, 4, 0}) {
    Planes q = input;
    livepipe::beauty::Processor processor;
    processor.set_threads(threads);
    livepipe::beauty::Frame frame{1280, 720, q.y.data(), 1280, q.u.data(), 640, q.v.data(), 640};
    processor.process(frame, params);
    BOOST_TEST(q.y == reference.y, "n-threads=" << threads);
  }
}

BOOST_AUTO_TEST_CASE(property_changes_while_playing) {
  const int width = 320, height = 240;
  Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "smoothing=0.5");
  const Planes input = random_frame(width, height, 13);
  GValue zero = G_VALUE_INIT, one = G_VALUE_INIT, radius = G_VALUE_INIT, threads = G_VALUE_INIT,
         skin = G_VALUE_INIT;
  g_value_init(&zero, G_TYPE_DOUBLE);
  g_value_set_double(&zero, 0.0);
  g_value_init(&one, G_TYPE_DOUBLE);
  g_value_set_double(&one, 1.0);
  GValue small = G_VALUE_INIT;
  g_value_init(&small, G_TYPE_UINT);
  g_value_set_uint(&small, 2);
  g_value_init(&radius, G_TYPE_UINT);
  g_value_set_uint(&radius, 30);
  g_value_init(&threads, G_TYPE_UINT);
  g_value_set_uint(&threads, 3);
  g_value_init(&skin, G_TYPE_BOOLEAN);
  g_value_set_boolean(&skin, FALSE);
  // Two threads per property fight over its value while frames flow.
  GstHarnessThread *stress[] = {
      gst_harness_stress_property_start_full(beauty.h, "smoothing", &one, 100),
      gst_harness_stress_property_start_full(beauty.h, "smoothing", &zero, 130),
      gst_harness_stress_property_start_full(beauty.h, "whitening", &one, 150),
      gst_harness_stress_property_start_full(beauty.h, "whitening", &zero, 170),
      gst_harness_stress_property_start_full(beauty.h, "radius", &radius, 200),
      gst_harness_stress_property_start_full(beauty.h, "radius", &small, 220),
      gst_harness_stress_property_start_full(beauty.h, "n-threads", &threads, 250),
      gst_harness_stress_property_start_full(beauty.h, "skin-only", &skin, 300),
  };
  for (int i = 0; i < 150; ++i) {
    GstBuffer *out = beauty.process(input, i * GST_SECOND / 30);
    BOOST_REQUIRE_EQUAL(gst_buffer_get_size(out), GST_VIDEO_INFO_SIZE(&beauty.info));
    gst_buffer_unref(out);
  }
  for (GstHarnessThread *thread : stress) {
    BOOST_TEST(gst_harness_stress_thread_stop(thread) > 0u);
  }
  // Back to zero strength: the next frame comes through byte for byte.
  beauty.set("smoothing", 0.0);
  beauty.set("whitening", 0.0);
  GstBuffer *in = to_buffer(input, beauty.info);
  const std::vector<uint8_t> expected = bytes_of(in);
  BOOST_REQUIRE_EQUAL(gst_harness_push(beauty.h, in), GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull(beauty.h);
  BOOST_TEST(bytes_of(out) == expected);
  gst_buffer_unref(out);
}

BOOST_AUTO_TEST_CASE(smoothing_is_controllable) {
  const int width = 160, height = 120;
  Beauty beauty(GST_VIDEO_FORMAT_I420, width, height, "whitening=0");
  GstElement *element = beauty.element();
  GstControlSource *source = gst_interpolation_control_source_new();
  g_object_set(source, "mode", GST_INTERPOLATION_MODE_NONE, nullptr);
  gst_timed_value_control_source_set(GST_TIMED_VALUE_CONTROL_SOURCE(source), 0, 0.0);
  gst_timed_value_control_source_set(GST_TIMED_VALUE_CONTROL_SOURCE(source), GST_SECOND, 1.0);
  gst_object_add_control_binding(
      GST_OBJECT(element),
      gst_direct_control_binding_new_absolute(GST_OBJECT(element), "smoothing", source));
  gst_object_unref(source);
  gst_harness_push_event(beauty.h, gst_event_new_segment([] {
                           static GstSegment segment;
                           gst_segment_init(&segment, GST_FORMAT_TIME);
                           return &segment;
                         }()));
  const Planes input = random_frame(width, height, 17);
  GstBuffer *early = beauty.process(input, 0);
  BOOST_TEST(luma_of(early, beauty.info).y == input.y);
  GstBuffer *late = beauty.process(input, 2 * GST_SECOND);
  BOOST_TEST(luma_of(late, beauty.info).y != input.y);
  double smoothing = 0;
  g_object_get(element, "smoothing", &smoothing, nullptr);
  BOOST_TEST(smoothing == 1.0);
  gst_buffer_unref(early);
  gst_buffer_unref(late);
  gst_object_unref(element);
}

BOOST_AUTO_TEST_CASE(refuses_unsupported_formats) {
  GstHarness *h = gst_harness_new("lpbeauty");
  GstCaps *caps = gst_caps_from_string("video/x-raw,format=RGBA,width=64,height=64,framerate=30/1");
  GstPad *sinkpad = gst_element_get_static_pad(h->element, "sink");
  BOOST_TEST(!gst_pad_query_accept_caps(sinkpad, caps));
  gst_object_unref(sinkpad);
  gst_caps_unref(caps);
  gst_harness_teardown(h);
}

BOOST_AUTO_TEST_SUITE_END()
