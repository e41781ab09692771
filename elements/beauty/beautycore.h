// The beauty filter's image processing, independent of GStreamer so it can be
// unit-tested and benchmarked on plain buffers.
//
// Smoothing is a self-guided filter on luma built from O(1) box sums:
//   q = I + (1 - a) * (mean - I),  a = var / (var + eps)
// over a (2r+1)^2 window. Where the window holds only noise (var << eps) the
// pixel moves to the local mean; where it straddles an edge (var >> eps) the
// pixel keeps its value, so edges stay sharp. The result is blended in by a
// soft skin mask computed from Cb/Cr, so hair, eyes and background keep their
// detail. Whitening is a tone curve y + c*y*(255-y)/255 that lifts shadows and
// mid-tones most and never maps a value below 255 onto 255.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace livepipe::beauty {

struct Params {
  double smoothing = 0.0;  // 0..1
  double whitening = 0.0;  // 0..1
  bool skin_only = true;
  int radius = 8;  // pixels
};

// One planar or semi-planar 4:2:0 frame. For I420 `u` and `v` point at their
// planes; for NV12 `u` points at the interleaved UV plane and `v` is nullptr.
struct Frame {
  int width = 0;
  int height = 0;
  uint8_t *y = nullptr;
  int y_stride = 0;
  const uint8_t *u = nullptr;
  int u_stride = 0;
  const uint8_t *v = nullptr;
  int v_stride = 0;
};

// Weight 0..255 of a chroma pair being skin (BT.601 Cb/Cr); a smooth blob
// around the skin-tone cluster that falls to exactly 0 for saturated colours.
uint8_t skin_weight(uint8_t cb, uint8_t cr);

// Maximum radius accepted by the filter (box sums fit in 32 bits below it).
inline constexpr int kMaxRadius = 64;

class WorkerPool;

// Processes frames in place. Keeps scratch buffers and worker threads
// between frames; one Processor must not be used by two threads at once.
class Processor {
 public:
  Processor();
  ~Processor();
  Processor(const Processor &) = delete;
  Processor &operator=(const Processor &) = delete;

  // n_threads: 0 = one per core, 1 = the calling thread only.
  void set_threads(int n_threads);
  int threads() const { return n_threads_; }

  // True when `params` change nothing (every byte would stay the same).
  static bool is_identity(const Params &params);

  void process(const Frame &frame, const Params &params);

 private:
  struct Band;
  void run_band_prepare(Band &band);
  void run_band_filter(Band &band);

  int n_threads_ = 1;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::unique_ptr<Band>> bands_;
  std::vector<uint8_t> mask_;          // skin weight per chroma sample
  std::vector<uint8_t> mask_row_max_;  // per chroma row: 0 = no skin on it
  int mask_stride_ = 0;
  // per-frame state shared by the bands
  const Frame *frame_ = nullptr;
  Params params_;
};

}  // namespace livepipe::beauty
