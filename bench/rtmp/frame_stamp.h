// A timestamp drawn into a video frame's luma plane so that a receiver can
// read it back after encoding, transport and decoding: 56 blocks of 16x16
// pixels (8 columns, 7 rows) in the frame's top-left corner, each black or
// white, carrying 40 bits of value and a CRC-16 over them. Blocks sit on the
// 16x16 macroblock grid and are read from their inner 8x8 pixels with a luma
// threshold, so coding noise and blurring at the edges do not change a bit;
// the CRC rejects a frame where something did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace livepipe::bench {

inline constexpr int kStampBlock = 16;
inline constexpr int kStampColumns = 8;
inline constexpr int kStampRows = 7;
inline constexpr int kStampWidth = kStampBlock * kStampColumns;  // 128 pixels
inline constexpr int kStampHeight = kStampBlock * kStampRows;    // 112 pixels
inline constexpr int kStampValueBits = 40;
inline constexpr uint64_t kStampValueMask = (uint64_t{1} << kStampValueBits) - 1;

// Draws the low 40 bits of `value` into an 8-bit luma plane (`stride` bytes a
// row). False, and nothing drawn, when the plane is smaller than the stamp.
bool draw_stamp(uint8_t *luma, int stride, int width, int height, uint64_t value);

// The value drawn into the plane, or nothing when the plane is too small or
// the blocks do not carry a value with a matching CRC.
std::optional<uint64_t> read_stamp(const uint8_t *luma, int stride, int width, int height);

// Milliseconds from a stamp holding wall-clock milliseconds (modulo 2^40) to
// `now_ms`, across the wrap of the 40 bits; negative when the stamp is later.
int64_t stamp_age_ms(uint64_t stamp, int64_t now_ms);

// CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xffff).
uint16_t stamp_crc16(const uint8_t *data, size_t size);

}  // namespace livepipe::bench
