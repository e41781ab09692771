#include "overlay.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace livepipe::moderation {

int pixelation_block(int width, int height) {
  return std::max(8, (std::min(width, height) / 16) & ~1);
}

void pixelate(Planes420 &frame, const Region &area, int block) {
  block = std::max(2, block & ~1);
  // Even bounds keep luma tiles and their chroma tiles aligned.
  const int x0 = std::clamp(area.x, 0, frame.width) & ~1;
  const int y0 = std::clamp(area.y, 0, frame.height) & ~1;
  const int x1 = std::clamp(area.x + area.w, 0, frame.width);
  const int y1 = std::clamp(area.y + area.h, 0, frame.height);
  const int chroma_w = (frame.width + 1) / 2;
  const int chroma_h = (frame.height + 1) / 2;
  for (int ty = y0; ty < y1; ty += block) {
    const int ty1 = std::min(ty + block, y1);
    for (int tx = x0; tx < x1; tx += block) {
      const int tx1 = std::min(tx + block, x1);
      uint32_t sum = 0;
      for (int y = ty; y < ty1; ++y) {
        const uint8_t *row = frame.y + static_cast<ptrdiff_t>(y) * frame.y_stride;
        for (int x = tx; x < tx1; ++x) {
          sum += row[x];
        }
      }
      const auto mean = static_cast<uint8_t>(sum / static_cast<uint32_t>((ty1 - ty) * (tx1 - tx)));
      for (int y = ty; y < ty1; ++y) {
        std::memset(frame.y + static_cast<ptrdiff_t>(y) * frame.y_stride + tx, mean,
                    static_cast<size_t>(tx1 - tx));
      }

      const int cx0 = tx / 2, cy0 = ty / 2;
      const int cx1 = std::min((tx1 + 1) / 2, chroma_w), cy1 = std::min((ty1 + 1) / 2, chroma_h);
      if (cx1 <= cx0 || cy1 <= cy0) {
        continue;
      }
      const auto count = static_cast<uint32_t>((cy1 - cy0) * (cx1 - cx0));
      uint32_t su = 0, sv = 0;
      for (int cy = cy0; cy < cy1; ++cy) {
        const uint8_t *urow = frame.u + static_cast<ptrdiff_t>(cy) * frame.u_stride;
        if (frame.interleaved()) {
          for (int cx = cx0; cx < cx1; ++cx) {
            su += urow[2 * cx];
            sv += urow[2 * cx + 1];
          }
        } else {
          const uint8_t *vrow = frame.v + static_cast<ptrdiff_t>(cy) * frame.v_stride;
          for (int cx = cx0; cx < cx1; ++cx) {
            su += urow[cx];
            sv += vrow[cx];
          }
        }
      }
      const auto mu = static_cast<uint8_t>(su / count), mv = static_cast<uint8_t>(sv / count);
      for (int cy = cy0; cy < cy1; ++cy) {
        uint8_t *urow = frame.u + static_cast<ptrdiff_t>(cy) * frame.u_stride;
        if (frame.interleaved()) {
          for (int cx = cx0; cx < cx1; ++cx) {
            urow[2 * cx] = mu;
            urow[2 * cx + 1] = mv;
          }
        } else {
          std::memset(urow + cx0, mu, static_cast<size_t>(cx1 - cx0));
          std::memset(frame.v + static_cast<ptrdiff_t>(cy) * frame.v_stride + cx0, mv,
                      static_cast<size_t>(cx1 - cx0));
        }
      }
    }
  }
}

std::vector<Region> scale_regions(const std::vector<Region> &regions, int snapshot_width,
                                  int snapshot_height, int frame_width, int frame_height) {
  std::vector<Region> scaled;
  if (snapshot_width <= 0 || snapshot_height <= 0) {
    return scaled;
  }
  scaled.reserve(regions.size());
  for (const Region &r : regions) {
    const int64_t x0 = int64_t{r.x} * frame_width / snapshot_width;
    const int64_t y0 = int64_t{r.y} * frame_height / snapshot_height;
    const int64_t x1 = (int64_t{r.x + r.w} * frame_width + snapshot_width - 1) / snapshot_width;
    const int64_t y1 = (int64_t{r.y + r.h} * frame_height + snapshot_height - 1) / snapshot_height;
    const auto cx0 = static_cast<int>(std::min<int64_t>(x0, frame_width));
    const auto cy0 = static_cast<int>(std::min<int64_t>(y0, frame_height));
    const auto cx1 = static_cast<int>(std::min<int64_t>(x1, frame_width));
    const auto cy1 = static_cast<int>(std::min<int64_t>(y1, frame_height));
    if (cx1 > cx0 && cy1 > cy0) {
      scaled.push_back(Region{cx0, cy0, cx1 - cx0, cy1 - cy0});
    }
  }
  return scaled;
}

void snapshot_size(int width, int height, int max_size, int *out_width, int *out_height) {
  const int longer = std::max(width, height);
  int w = width, h = height;
  if (longer > max_size) {
    w = static_cast<int>(int64_t{width} * max_size / longer);
    h = static_cast<int>(int64_t{height} * max_size / longer);
  }
  *out_width = std::max(2, w & ~1);
  *out_height = std::max(2, h & ~1);
}

void downscale_to_i420(const Planes420 &frame, int out_width, int out_height, uint8_t *out) {
  uint8_t *out_y = out;
  uint8_t *out_u = out_y + static_cast<size_t>(out_width) * out_height;
  uint8_t *out_v = out_u + static_cast<size_t>(out_width / 2) * (out_height / 2);
  std::vector<int> xs(static_cast<size_t>(out_width));
  for (int x = 0; x < out_width; ++x) {
    xs[static_cast<size_t>(x)] = static_cast<int>(int64_t{x} * frame.width / out_width);
  }
  for (int y = 0; y < out_height; ++y) {
    const int sy = static_cast<int>(int64_t{y} * frame.height / out_height);
    const int sy1 = std::min(sy + 1, frame.height - 1);
    const uint8_t *row0 = frame.y + static_cast<ptrdiff_t>(sy) * frame.y_stride;
    const uint8_t *row1 = frame.y + static_cast<ptrdiff_t>(sy1) * frame.y_stride;
    uint8_t *dst = out_y + static_cast<size_t>(y) * out_width;
    for (int x = 0; x < out_width; ++x) {
      const int sx = xs[static_cast<size_t>(x)];
      const int sx1 = std::min(sx + 1, frame.width - 1);
      dst[x] = static_cast<uint8_t>((row0[sx] + row0[sx1] + row1[sx] + row1[sx1] + 2) / 4);
    }
  }
  const int cw = out_width / 2, ch = out_height / 2;
  const int src_cw = (frame.width + 1) / 2, src_ch = (frame.height + 1) / 2;
  for (int y = 0; y < ch; ++y) {
    const int sy = static_cast<int>(int64_t{y} * src_ch / ch);
    const uint8_t *urow = frame.u + static_cast<ptrdiff_t>(sy) * frame.u_stride;
    const uint8_t *vrow =
        frame.interleaved() ? nullptr : frame.v + static_cast<ptrdiff_t>(sy) * frame.v_stride;
    for (int x = 0; x < cw; ++x) {
      const int sx = static_cast<int>(int64_t{x} * src_cw / cw);
      out_u[static_cast<size_t>(y) * cw + x] = frame.interleaved() ? urow[2 * sx] : urow[sx];
      out_v[static_cast<size_t>(y) * cw + x] = frame.interleaved() ? urow[2 * sx + 1] : vrow[sx];
    }
  }
}

namespace {

constexpr int kGlyphW = 5, kGlyphH = 7;

struct Glyph {
  char c;
  const char *rows;  // 7 rows of 5 columns, '1' = ink
};

// clang-format off
constexpr std::array<Glyph, 49> kFont = {{
  {'A', "01110" "10001" "10001" "11111" "10001" "10001" "10001"},
  {'B', "11110" "10001" "10001" "11110" "10001" "10001" "11110"},
  {'C', "01110" "10001" "10000" "10000" "10000" "10001" "01110"},
  {'D', "11110" "10001" "10001" "10001" "10001" "10001" "11110"},
  {'E', "11111" "10000" "10000" "11110" "10000" "10000" "11111"},
  {'F', "11111" "10000" "10000" "11110" "10000" "10000" "10000"},
  {'G', "01110" "10001" "10000" "10111" "10001" "10001" "01111"},
  {'H', "10001" "10001" "10001" "11111" "10001" "10001" "10001"},
  {'I', "01110" "00100" "00100" "00100" "00100" "00100" "01110"},
  {'J', "00111" "00010" "00010" "00010" "00010" "10010" "01100"},
  {'K', "10001" "10010" "10100" "11000" "10100" "10010" "10001"},
  {'L', "10000" "10000" "10000" "10000" "10000" "10000" "11111"},
  {'M', "10001" "11011" "10101" "10101" "10001" "10001" "10001"},
  {'N', "10001" "10001" "11001" "10101" "10011" "10001" "10001"},
  {'O', "01110" "10001" "10001" "10001" "10001" "10001" "01110"},
  {'P', "11110" "10001" "10001" "11110" "10000" "10000" "10000"},
  {'Q', "01110" "10001" "10001" "10001" "10101" "10010" "01101"},
  {'R', "11110" "10001" "10001" "11110" "10100" "10010" "10001"},
  {'S', "01111" "10000" "10000" "01110" "00001" "00001" "11110"},
  {'T', "11111" "00100" "00100" "00100" "00100" "00100" "00100"},
  {'U', "10001" "10001" "10001" "10001" "10001" "10001" "01110"},
  {'V', "10001" "10001" "10001" "10001" "10001" "01010" "00100"},
  {'W', "10001" "10001" "10001" "10101" "10101" "10101" "01010"},
  {'X', "10001" "10001" "01010" "00100" "01010" "10001" "10001"},
  {'Y', "10001" "10001" "01010" "00100" "00100" "00100" "00100"},
  {'Z', "11111" "00001" "00010" "00100" "01000" "10000" "11111"},
  {'0', "01110" "10001" "10011" "10101" "11001" "10001" "01110"},
  {'1', "00100" "01100" "00100" "00100" "00100" "00100" "01110"},
  {'2', "01110" "10001" "00001" "00010" "00100" "01000" "11111"},
  {'3', "11111" "00010" "00100" "00010" "00001" "10001" "01110"},
  {'4', "00010" "00110" "01010" "10010" "11111" "00010" "00010"},
  {'5', "11111" "10000" "11110" "00001" "00001" "10001" "01110"},
  {'6', "00110" "01000" "10000" "11110" "10001" "10001" "01110"},
  {'7', "11111" "00001" "00010" "00100" "01000" "01000" "01000"},
  {'8', "01110" "10001" "10001" "01110" "10001" "10001" "01110"},
  {'9', "01110" "10001" "10001" "01111" "00001" "00010" "01100"},
  {' ', "00000" "00000" "00000" "00000" "00000" "00000" "00000"},
  {'.', "00000" "00000" "00000" "00000" "00000" "01100" "01100"},
  {',', "00000" "00000" "00000" "00000" "01100" "00100" "01000"},
  {':', "00000" "01100" "01100" "00000" "01100" "01100" "00000"},
  {'-', "00000" "00000" "00000" "11111" "00000" "00000" "00000"},
  {'!', "00100" "00100" "00100" "00100" "00100" "00000" "00100"},
  {'?', "01110" "10001" "00001" "00010" "00100" "00000" "00100"},
  {'\'', "00100" "00100" "01000" "00000" "00000" "00000" "00000"},
  {'/', "00001" "00001" "00010" "00100" "01000" "10000" "10000"},
  {'(', "00010" "00100" "01000" "01000" "01000" "00100" "00010"},
  {')', "01000" "00100" "00010" "00010" "00010" "00100" "01000"},
  {'+', "00000" "00100" "00100" "11111" "00100" "00100" "00000"},
  {'=', "00000" "00000" "11111" "00000" "11111" "00000" "00000"},
}};
// clang-format on

const char *glyph_rows(char c) {
  if (c >= 'a' && c <= 'z') {
    c = static_cast<char>(c - 'a' + 'A');
  }
  const char *unknown = nullptr;
  for (const Glyph &glyph : kFont) {
    if (glyph.c == c) {
      return glyph.rows;
    }
    if (glyph.c == '?') {
      unknown = glyph.rows;
    }
  }
  return unknown;
}

constexpr uint8_t kBlackY = 16, kWhiteY = 235, kNeutralC = 128;

}  // namespace

void black_with_notice(Planes420 &frame, std::string_view notice) {
  for (int y = 0; y < frame.height; ++y) {
    std::memset(frame.y + static_cast<ptrdiff_t>(y) * frame.y_stride, kBlackY,
                static_cast<size_t>(frame.width));
  }
  const int chroma_w = (frame.width + 1) / 2, chroma_h = (frame.height + 1) / 2;
  for (int cy = 0; cy < chroma_h; ++cy) {
    std::memset(frame.u + static_cast<ptrdiff_t>(cy) * frame.u_stride, kNeutralC,
                static_cast<size_t>(frame.interleaved() ? 2 * chroma_w : chroma_w));
    if (!frame.interleaved()) {
      std::memset(frame.v + static_cast<ptrdiff_t>(cy) * frame.v_stride, kNeutralC,
                  static_cast<size_t>(chroma_w));
    }
  }

  // One cell is a glyph plus one column of spacing. The text takes at most
  // 90 % of the width and its height about 1/12 of the frame's.
  const int max_chars = std::max(0, (frame.width * 9 / 10) / (kGlyphW + 1));
  const std::string_view text = notice.substr(0, static_cast<size_t>(max_chars));
  if (text.empty()) {
    return;
  }
  const int n = static_cast<int>(text.size());
  const int scale = std::max(
      1, std::min(frame.height / (12 * kGlyphH), (frame.width * 9 / 10) / (n * (kGlyphW + 1))));
  const int text_w = (n * (kGlyphW + 1) - 1) * scale;
  const int text_h = kGlyphH * scale;
  const int left = std::max(0, (frame.width - text_w) / 2);
  const int top = std::max(0, (frame.height - text_h) / 2);
  for (int i = 0; i < n; ++i) {
    const char *rows = glyph_rows(text[static_cast<size_t>(i)]);
    for (int gy = 0; gy < kGlyphH; ++gy) {
      for (int gx = 0; gx < kGlyphW; ++gx) {
        if (rows[gy * kGlyphW + gx] != '1') {
          continue;
        }
        const int px = left + (i * (kGlyphW + 1) + gx) * scale;
        const int py = top + gy * scale;
        for (int y = py; y < std::min(py + scale, frame.height); ++y) {
          uint8_t *row = frame.y + static_cast<ptrdiff_t>(y) * frame.y_stride;
          for (int x = px; x < std::min(px + scale, frame.width); ++x) {
            row[x] = kWhiteY;
          }
        }
      }
    }
  }
}

}  // namespace livepipe::moderation
