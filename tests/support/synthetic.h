// Deterministic synthetic 4:2:0 frames for the beauty filter's tests and
// benchmark: a skin-tone region with Gaussian luma noise and a sharp
// luminance edge through it, and non-skin regions of saturated colour.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace livepipe::testing {

struct Planes {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> y;  // width x height, stride = width
  std::vector<uint8_t> u;  // (width+1)/2 x (height+1)/2
  std::vector<uint8_t> v;
  int chroma_width() const { return (width + 1) / 2; }
  int chroma_height() const { return (height + 1) / 2; }
};

// BT.601 values of a light skin tone (RGB 224,172,140) and two saturated
// colours that must never be taken for skin.
inline constexpr uint8_t kSkinCb = 106, kSkinCr = 153;
inline constexpr uint8_t kBlueY = 41, kBlueCb = 240, kBlueCr = 110;
inline constexpr uint8_t kGreenY = 145, kGreenCb = 54, kGreenCr = 34;

struct FaceLayout {
  int width;
  int height;
  int edge_x;      // luminance edge inside the skin: dark left, light right
  int skin_end_x;  // skin for x < skin_end_x, saturated colours after
  uint8_t dark = 110;
  uint8_t light = 190;
  double sigma = 8.0;
};

inline FaceLayout default_layout(int width, int height) {
  return FaceLayout{width, height, width / 4, (width * 5) / 8};
}

// Skin: luma `dark` left of edge_x and `light` right of it, up to skin_end_x;
// then saturated blue on the upper half and green on the lower half. Noise is
// added to every luma sample.
inline Planes make_face_frame(const FaceLayout &layout, uint32_t seed = 1234) {
  Planes p;
  p.width = layout.width;
  p.height = layout.height;
  p.y.resize(static_cast<size_t>(p.width) * p.height);
  p.u.resize(static_cast<size_t>(p.chroma_width()) * p.chroma_height());
  p.v.resize(p.u.size());
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, layout.sigma);
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      double base;
      if (x < layout.skin_end_x) {
        base = x < layout.edge_x ? layout.dark : layout.light;
      } else {
        base = y < p.height / 2 ? kBlueY : kGreenY;
      }
      const double value = base + noise(rng);
      p.y[static_cast<size_t>(y) * p.width + x] =
          static_cast<uint8_t>(std::clamp(value + 0.5, 0.0, 255.0));
    }
  }
  for (int cy = 0; cy < p.chroma_height(); ++cy) {
    for (int cx = 0; cx < p.chroma_width(); ++cx) {
      const size_t i = static_cast<size_t>(cy) * p.chroma_width() + cx;
      if (2 * cx < layout.skin_end_x) {
        p.u[i] = kSkinCb;
        p.v[i] = kSkinCr;
      } else if (2 * cy < p.height / 2) {
        p.u[i] = kBlueCb;
        p.v[i] = kBlueCr;
      } else {
        p.u[i] = kGreenCb;
        p.v[i] = kGreenCr;
      }
    }
  }
  return p;
}

}  // namespace livepipe::testing
