// What verdicts do to a frame: pixelation and a black frame with a notice.
// Works on 4:2:0 planes (I420 and NV12) in place; no GStreamer here.
#pragma once

#include "verdict.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace livepipe::moderation {

struct Planes420 {
  int width = 0;
  int height = 0;
  uint8_t *y = nullptr;
  int y_stride = 0;
  uint8_t *u = nullptr;  // NV12: the interleaved UV plane
  int u_stride = 0;
  uint8_t *v = nullptr;  // nullptr for NV12
  int v_stride = 0;
  bool interleaved() const { return v == nullptr; }
};

// Pixel size of one pixelation block: coarse enough that faces and text
// cannot be recognised (1/16 of the shorter side, at least 8 pixels).
int pixelation_block(int width, int height);

// Replaces every block x block tile of `area` (frame pixels, clipped to the
// frame) with its average colour.
void pixelate(Planes420 &frame, const Region &area, int block);

// Scales regions given in snapshot pixels to frame pixels, rounding outwards
// so the scaled rectangle always covers what the hook marked.
std::vector<Region> scale_regions(const std::vector<Region> &regions, int snapshot_width,
                                  int snapshot_height, int frame_width, int frame_height);

// Snapshot size for a frame: the longer side at most `max_size`, aspect kept,
// even dimensions.
void snapshot_size(int width, int height, int max_size, int *out_width, int *out_height);

// Writes a downscaled copy of `frame` as contiguous I420 (out_width x
// out_height luma, then U, then V) into `out`, which must hold
// out_width * out_height * 3 / 2 bytes. Luma is a 2x2 average around each
// sample point, chroma the nearest sample: cheap enough for the streaming thread.
void downscale_to_i420(const Planes420 &frame, int out_width, int out_height, uint8_t *out);

// Paints the frame black and writes `notice` centred in white with a built-in
// 5x7 bitmap font (A-Z, 0-9, space and . , : - ! ? ' / ( ); lower case is
// drawn as upper case and other characters as '?').
void black_with_notice(Planes420 &frame, std::string_view notice);

}  // namespace livepipe::moderation
