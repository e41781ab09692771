#include "frame_stamp.h"

#include <array>

namespace livepipe::bench {
namespace {

// Studio-range black and white: what an encoder keeps exactly.
constexpr uint8_t kBlack = 16;
constexpr uint8_t kWhite = 235;
constexpr int kThreshold = (kBlack + kWhite) / 2;
// Only the inner pixels of a block are read: its edges are where ringing and
// blurring from the neighbouring blocks land.
constexpr int kInset = kStampBlock / 4;
constexpr int kBits = kStampColumns * kStampRows;
constexpr int kValueBytes = kStampValueBits / 8;
static_assert(kBits == kStampValueBits + 16, "the grid holds the value and its CRC-16");

using Bits = std::array<bool, kBits>;

bool fits(int stride, int width, int height) {
  return width >= kStampWidth && height >= kStampHeight && stride >= width;
}

std::array<uint8_t, kValueBytes> value_bytes(uint64_t value) {
  std::array<uint8_t, kValueBytes> bytes{};
  for (int i = 0; i < kValueBytes; ++i) {
    bytes[i] = static_cast<uint8_t>(value >> (8 * (kValueBytes - 1 - i)));
  }
  return bytes;
}

}  // namespace

uint16_t stamp_crc16(const uint8_t *data, size_t size) {
  uint16_t crc = 0xffff;
  for (size_t i = 0; i < size; ++i) {
    crc ^= static_cast<uint16_t>(data[i] << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

bool draw_stamp(uint8_t *luma, int stride, int width, int height, uint64_t value) {
  if (!luma || !fits(stride, width, height)) {
    return false;
  }
  value &= kStampValueMask;
  auto bytes = value_bytes(value);
  uint64_t word = (value << 16) | stamp_crc16(bytes.data(), bytes.size());
  for (int bit = 0; bit < kBits; ++bit) {
    // Most significant bit first, row by row.
    uint8_t level = (word >> (kBits - 1 - bit)) & 1 ? kWhite : kBlack;
    int x0 = (bit % kStampColumns) * kStampBlock;
    int y0 = (bit / kStampColumns) * kStampBlock;
    for (int y = y0; y < y0 + kStampBlock; ++y) {
      uint8_t *row = luma + static_cast<ptrdiff_t>(y) * stride;
      for (int x = x0; x < x0 + kStampBlock; ++x) {
        row[x] = level;
      }
    }
  }
  return true;
}

std::optional<uint64_t> read_stamp(const uint8_t *luma, int stride, int width, int height) {
  if (!luma || !fits(stride, width, height)) {
    return std::nullopt;
  }
  uint64_t word = 0;
  for (int bit = 0; bit < kBits; ++bit) {
    int x0 = (bit % kStampColumns) * kStampBlock + kInset;
    int y0 = (bit / kStampColumns) * kStampBlock + kInset;
    int sum = 0;
    for (int y = y0; y < y0 + kStampBlock - 2 * kInset; ++y) {
      const uint8_t *row = luma + static_cast<ptrdiff_t>(y) * stride;
      for (int x = x0; x < x0 + kStampBlock - 2 * kInset; ++x) {
        sum += row[x];
      }
    }
    constexpr int kSamples = (kStampBlock - 2 * kInset) * (kStampBlock - 2 * kInset);
    word = (word << 1) | (sum > kThreshold * kSamples ? 1 : 0);
  }
  uint64_t value = word >> 16;
  auto bytes = value_bytes(value);
  if (stamp_crc16(bytes.data(), bytes.size()) != (word & 0xffff)) {
    return std::nullopt;
  }
  return value;
}

int64_t stamp_age_ms(uint64_t stamp, int64_t now_ms) {
  uint64_t now = static_cast<uint64_t>(now_ms) & kStampValueMask;
  uint64_t diff = (now - (stamp & kStampValueMask)) & kStampValueMask;
  // Half the range either way: a stamp from the future reads as negative.
  constexpr uint64_t kHalf = uint64_t{1} << (kStampValueBits - 1);
  return diff < kHalf ? static_cast<int64_t>(diff)
                      : static_cast<int64_t>(diff) - static_cast<int64_t>(kStampValueMask + 1);
}

}  // namespace livepipe::bench
