// Unit tests of moderation's pure parts: the verdict parser, the frame
// effects and snapshot scaling. No sockets, no pipelines.
#define BOOST_TEST_MODULE moderation_unit
#include <boost/test/unit_test.hpp>

#include "overlay.h"
#include "verdict.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace livepipe::moderation;

namespace {

Verdict parse_ok(const std::string &text) {
  Verdict verdict;
  std::string error;
  BOOST_REQUIRE_MESSAGE(parse_verdict(text, &verdict, &error), text << " -> " << error);
  return verdict;
}

std::string parse_error(const std::string &text) {
  Verdict verdict;
  verdict.reason = "untouched";
  std::string error;
  BOOST_REQUIRE_MESSAGE(!parse_verdict(text, &verdict, &error), text << " was accepted");
  BOOST_CHECK_EQUAL(verdict.reason, "untouched");  // a failed parse changes nothing
  BOOST_CHECK(!error.empty());
  return error;
}

struct TestFrame {
  int width, height;
  bool nv12;
  std::vector<uint8_t> y, uv, v;
  int y_stride, c_stride;
  TestFrame(int w, int h, bool interleaved, uint32_t seed = 7)
      : width(w), height(h), nv12(interleaved), y_stride(w + 16) {
    const int cw = (w + 1) / 2, ch = (h + 1) / 2;
    c_stride = (interleaved ? 2 * cw : cw) + 8;
    std::mt19937 rng(seed);
    y.resize(static_cast<size_t>(y_stride) * h);
    uv.resize(static_cast<size_t>(c_stride) * ch);
    v.resize(interleaved ? 0 : static_cast<size_t>(c_stride) * ch);
    for (auto &b : y)
      b = static_cast<uint8_t>(rng());
    for (auto &b : uv)
      b = static_cast<uint8_t>(rng());
    for (auto &b : v)
      b = static_cast<uint8_t>(rng());
  }
  Planes420 planes() {
    Planes420 p;
    p.width = width;
    p.height = height;
    p.y = y.data();
    p.y_stride = y_stride;
    p.u = uv.data();
    p.u_stride = c_stride;
    if (!nv12) {
      p.v = v.data();
      p.v_stride = c_stride;
    }
    return p;
  }
  uint8_t luma(int x, int yy) const { return y[static_cast<size_t>(yy) * y_stride + x]; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(parses_every_verdict_with_its_fields) {
  BOOST_CHECK(parse_ok(R"({"verdict":"allow"})").action == Action::Allow);
  BOOST_CHECK(parse_ok(R"({"verdict":"end","reason":"terms"})").action == Action::End);
  Verdict block = parse_ok(R"({"verdict":"block","reason":"nudity","expires_ms":5000,"x":1})");
  BOOST_CHECK(block.action == Action::Block);
  BOOST_CHECK_EQUAL(block.reason, "nudity");
  BOOST_REQUIRE(block.expires_ms);
  BOOST_CHECK_EQUAL(*block.expires_ms, 5000);
  Verdict blur = parse_ok(
      R"({"verdict":"blur","regions":[{"x":1,"y":2,"w":3,"h":4},{"x":0,"y":0,"w":10.0,"h":1}]})");
  BOOST_CHECK(blur.action == Action::Blur);
  BOOST_REQUIRE_EQUAL(blur.regions.size(), 2u);
  BOOST_CHECK((blur.regions[0] == Region{1, 2, 3, 4}));
  BOOST_CHECK((blur.regions[1] == Region{0, 0, 10, 1}));
  BOOST_CHECK(!parse_ok(R"({"verdict":"allow","regions":null,"expires_ms":null})").expires_ms);
}

BOOST_AUTO_TEST_CASE(rejects_malformed_replies_with_a_reason) {
  BOOST_CHECK_EQUAL(parse_error(""), "empty reply");
  BOOST_CHECK_EQUAL(parse_error("  \n"), "empty reply");
  BOOST_CHECK(parse_error("not json{").find("invalid JSON at 1:") == 0);
  BOOST_CHECK(parse_error("[1,2]").find("must be a JSON object, got array") != std::string::npos);
  BOOST_CHECK_EQUAL(parse_error("{}"), "\"verdict\" is missing");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":3})"), "\"verdict\" must be a string");
  BOOST_CHECK(parse_error(R"({"verdict":"ban"})").find("unknown verdict \"ban\"") == 0);
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"allow","reason":5})"),
                    "\"reason\" must be a string");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":{}})"),
                    "\"regions\" must be an array");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":[{"x":1,"y":2,"w":3}]})"),
                    "regions[0]: \"h\" is missing");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":[{"x":1,"y":2,"w":0,"h":1}]})"),
                    "regions[0]: \"w\" is out of range [1, 65536]");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":[{"x":-1,"y":2,"w":1,"h":1}]})"),
                    "regions[0]: \"x\" is out of range [0, 65536]");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":[{"x":1.5,"y":2,"w":1,"h":1}]})"),
                    "regions[0]: \"x\" must be an integer, got number");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"block","expires_ms":0})"),
                    "\"expires_ms\" is out of range [1, 86400000]");
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"block","expires_ms":"5"})"),
                    "\"expires_ms\" must be an integer, got string");
}

BOOST_AUTO_TEST_CASE(rejects_oversized_replies) {
  std::string regions;
  for (int i = 0; i <= static_cast<int>(kMaxRegions); ++i) {
    regions += std::string(i ? "," : "") + R"({"x":0,"y":0,"w":1,"h":1})";
  }
  BOOST_CHECK_EQUAL(parse_error(R"({"verdict":"blur","regions":[)" + regions + "]}"),
                    "more than 64 regions");
  BOOST_CHECK(parse_error(R"({"verdict":"allow","reason":")" + std::string(2000, 'a') + "\"}")
                  .find("longer than 1024") != std::string::npos);
  std::string huge = R"({"verdict":"allow","pad":")" + std::string(kMaxReplyBytes, 'x') + "\"}";
  BOOST_CHECK(parse_error(huge).find("exceeds 65536") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pixelate_makes_uniform_tiles_only_inside_the_region) {
  for (bool nv12 : {false, true}) {
    TestFrame frame(99, 61, nv12);  // odd sizes and padded strides
    const TestFrame original = frame;
    Planes420 planes = frame.planes();
    pixelate(planes, Region{10, 8, 40, 30}, 8);
    for (int y = 0; y < frame.height; ++y) {
      for (int x = 0; x < frame.width; ++x) {
        const bool inside = x >= 10 && x < 50 && y >= 8 && y < 38;
        if (!inside) {
          BOOST_REQUIRE_EQUAL(frame.luma(x, y), original.luma(x, y));
        }
      }
    }
    // Each 8x8 tile holds one value: the tile's mean.
    for (int ty = 8; ty < 38; ty += 8) {
      for (int tx = 10; tx < 50; tx += 8) {
        const int x1 = std::min(tx + 8, 50), y1 = std::min(ty + 8, 38);
        uint32_t sum = 0;
        for (int y = ty; y < y1; ++y)
          for (int x = tx; x < x1; ++x)
            sum += original.luma(x, y);
        const auto mean = static_cast<uint8_t>(sum / static_cast<uint32_t>((x1 - tx) * (y1 - ty)));
        for (int y = ty; y < y1; ++y)
          for (int x = tx; x < x1; ++x)
            BOOST_REQUIRE_EQUAL(frame.luma(x, y), mean);
      }
    }
    // Stride padding is never written.
    for (int y = 0; y < frame.height; ++y) {
      BOOST_REQUIRE(std::equal(frame.y.begin() + y * frame.y_stride + frame.width,
                               frame.y.begin() + (y + 1) * frame.y_stride,
                               original.y.begin() + y * frame.y_stride + frame.width));
    }
  }
}

BOOST_AUTO_TEST_CASE(pixelate_clips_regions_to_the_frame) {
  TestFrame frame(64, 48, false);
  Planes420 planes = frame.planes();
  pixelate(planes, Region{60, 40, 1000, 1000}, 16);
  pixelate(planes, Region{100, 100, 10, 10}, 16);  // entirely outside: nothing happens
  BOOST_CHECK_EQUAL(frame.luma(62, 42), frame.luma(63, 47));
}

BOOST_AUTO_TEST_CASE(block_paints_black_with_a_readable_notice) {
  for (bool nv12 : {false, true}) {
    TestFrame frame(320, 240, nv12);
    Planes420 planes = frame.planes();
    black_with_notice(planes, "Blocked: x");
    int white = 0, black = 0;
    for (int y = 0; y < 240; ++y) {
      for (int x = 0; x < 320; ++x) {
        white += frame.luma(x, y) == 235;
        black += frame.luma(x, y) == 16;
      }
    }
    BOOST_CHECK_EQUAL(white + black, 320 * 240);
    BOOST_CHECK_GT(white, 100);             // the text is there
    BOOST_CHECK_LT(white, 320 * 240 / 10);  // and small
    BOOST_CHECK_EQUAL(frame.luma(0, 0), 16);
    BOOST_CHECK_EQUAL(frame.uv[0], 128);
  }
  TestFrame tiny(4, 2, false);
  Planes420 planes = tiny.planes();
  black_with_notice(planes, "TOO LONG TO FIT");  // must not write outside the frame
  BOOST_CHECK_EQUAL(tiny.luma(3, 1), 16);
}

BOOST_AUTO_TEST_CASE(regions_scale_from_snapshot_to_frame_pixels) {
  auto scaled = scale_regions({{10, 10, 20, 20}, {630, 350, 100, 100}}, 640, 360, 1920, 1080);
  BOOST_REQUIRE_EQUAL(scaled.size(), 2u);
  BOOST_CHECK((scaled[0] == Region{30, 30, 60, 60}));
  BOOST_CHECK((scaled[1] == Region{1890, 1050, 30, 30}));  // clipped to the frame
  BOOST_CHECK(scale_regions({{700, 0, 5, 5}}, 640, 360, 1920, 1080).empty());
}

BOOST_AUTO_TEST_CASE(snapshots_fit_max_size_and_keep_content) {
  int w, h;
  snapshot_size(1920, 1080, 640, &w, &h);
  BOOST_CHECK_EQUAL(w, 640);
  BOOST_CHECK_EQUAL(h, 360);
  snapshot_size(320, 240, 640, &w, &h);  // never scaled up
  BOOST_CHECK_EQUAL(w, 320);
  BOOST_CHECK_EQUAL(h, 240);
  snapshot_size(1081, 1921, 100, &w, &h);
  BOOST_CHECK_EQUAL(h, 100);
  BOOST_CHECK_EQUAL(w, 56);

  TestFrame frame(64, 32, true);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x)
      frame.y[static_cast<size_t>(y) * frame.y_stride + x] = x < 32 ? 20 : 200;
  std::vector<uint8_t> out(32 * 16 * 3 / 2);
  downscale_to_i420(frame.planes(), 32, 16, out.data());
  BOOST_CHECK_EQUAL(out[0], 20);
  BOOST_CHECK_EQUAL(out[31], 200);
  BOOST_CHECK_EQUAL(out[32 * 16 - 1], 200);
}
