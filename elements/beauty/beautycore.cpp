#include "beautycore.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <mutex>
#include <thread>

namespace livepipe::beauty {

// Runs fn(0..count-1) on `size` participants: the caller and size-1 threads
// that live as long as the pool.
class WorkerPool {
 public:
  explicit WorkerPool(int size) {
    for (int index = 1; index < size; ++index) {
      threads_.emplace_back([this, index] { worker(index); });
    }
  }

  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    start_.notify_all();
    for (auto &thread : threads_) {
      thread.join();
    }
  }

  int size() const { return static_cast<int>(threads_.size()) + 1; }

  void run(int count, const std::function<void(int)> &fn) {
    if (count <= 1 || threads_.empty()) {
      for (int index = 0; index < count; ++index) {
        fn(index);
      }
      return;
    }
    {
      std::lock_guard lock(mutex_);
      job_ = &fn;
      job_count_ = count;
      pending_ = static_cast<int>(threads_.size());
      ++generation_;
    }
    start_.notify_all();
    fn(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)> *job;
      int count;
      {
        std::unique_lock lock(mutex_);
        start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) {
          return;
        }
        seen = generation_;
        job = job_;
        count = job_count_;
      }
      if (index < count) {
        (*job)(index);
      }
      {
        std::lock_guard lock(mutex_);
        if (--pending_ == 0) {
          done_.notify_one();
        }
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(int)> *job_ = nullptr;
  int job_count_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

namespace {

constexpr int kCenterCb = 104;
constexpr int kCenterCr = 153;
constexpr double kAxisCb = 26.0;
constexpr double kAxisCr = 20.0;
constexpr double kFalloff = 0.5;  // mask reaches 0 at 1.5x the core ellipse

struct SkinTable {
  uint8_t weight[256][256];
  SkinTable() {
    for (int cb = 0; cb < 256; ++cb) {
      for (int cr = 0; cr < 256; ++cr) {
        const double dcb = (cb - kCenterCb) / kAxisCb;
        const double dcr = (cr - kCenterCr) / kAxisCr;
        const double distance = std::sqrt(dcb * dcb + dcr * dcr);
        double w = 1.0;
        if (distance > 1.0) {
          const double t = std::min(1.0, (distance - 1.0) / kFalloff);
          w = 1.0 - t * t * (3.0 - 2.0 * t);
        }
        weight[cb][cr] = static_cast<uint8_t>(std::lround(w * 255.0));
      }
    }
  }
};

const SkinTable &skin_table() {
  static const SkinTable table;
  return table;
}

struct RowParams {
  float inv_area;
  float eps;
  float smooth_blend;
  float white;  // whitening curve strength c
};

// One output row. `col`/`col2` are the window sums of I and I^2 (unused when
// not smoothing); `mask` holds one weight per luma pixel (unused when the
// effect applies everywhere). Branch-free per variant so it vectorizes.
template <bool kSmooth, bool kSkinOnly>
inline void filter_row_impl(uint8_t *__restrict row, const int32_t *__restrict col,
                            const int32_t *__restrict col2, const uint8_t *__restrict mask,
                            int width, RowParams p) {
  constexpr float kInv255 = 1.0f / 255.0f;
  // The curve is anchored at 254.5 so that after rounding no value below 255
  // can become 255: whitening never clips a pixel that was not clipped.
  constexpr float kTop = 254.5f;
  constexpr float kInvTop = 1.0f / kTop;
  for (int x = 0; x < width; ++x) {
    const float in = row[x];
    const float m = kSkinOnly ? mask[x] * kInv255 : 1.0f;
    float v = in;
    if constexpr (kSmooth) {
      const float mean = static_cast<float>(col[x]) * p.inv_area;
      const float mean2 = static_cast<float>(col2[x]) * p.inv_area;
      const float var = std::max(mean2 - mean * mean, 0.0f);
      const float keep_out = p.eps / (var + p.eps);
      v += m * p.smooth_blend * keep_out * (mean - in);
    }
    const float lift = std::max(p.white * v * (kTop - v) * kInvTop, 0.0f);
    v += m * lift;
    row[x] = static_cast<uint8_t>(v + 0.5f);
  }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define LIVEPIPE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LIVEPIPE_CLONES
#endif

LIVEPIPE_CLONES
void filter_row(uint8_t *row, const int32_t *col, const int32_t *col2, const uint8_t *mask,
                int width, RowParams p, bool smooth, bool skin_only) {
  if (smooth) {
    if (skin_only) {
      filter_row_impl<true, true>(row, col, col2, mask, width, p);
    } else {
      filter_row_impl<true, false>(row, col, col2, mask, width, p);
    }
  } else if (skin_only) {
    filter_row_impl<false, true>(row, col, col2, mask, width, p);
  } else {
    filter_row_impl<false, false>(row, col, col2, mask, width, p);
  }
}

// Replaces one ring row of box sums with `fresh` and updates the window
// column sums by the difference, in one pass.
LIVEPIPE_CLONES
void replace_row_sums(const int32_t *__restrict prefix, const int32_t *__restrict prefix2, int span,
                      int width, int32_t *__restrict hs, int32_t *__restrict hs2,
                      int32_t *__restrict col, int32_t *__restrict col2) {
  for (int x = 0; x < width; ++x) {
    const int32_t fresh = prefix[x + span] - prefix[x];
    const int32_t fresh2 = prefix2[x + span] - prefix2[x];
    col[x] += fresh - hs[x];
    col2[x] += fresh2 - hs2[x];
    hs[x] = fresh;
    hs2[x] = fresh2;
  }
}

// Inclusive prefix sums of `n` bytes and of their squares, with out[0] = 0.
void prefix_sums_scalar(const uint8_t *in, int n, int32_t *out, int32_t *out2) {
  int32_t sum = 0;
  int32_t sum2 = 0;
  out[0] = 0;
  out2[0] = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t value = in[i];
    sum += value;
    sum2 += value * value;
    out[i + 1] = sum;
    out2[i + 1] = sum2;
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
// Inclusive scan of eight lanes: per 128-bit half, then the low half's total
// carried into the high half.
__attribute__((target("avx2"))) inline __m256i scan8(__m256i v) {
  v = _mm256_add_epi32(v, _mm256_slli_si256(v, 4));
  v = _mm256_add_epi32(v, _mm256_slli_si256(v, 8));
  const __m256i carry = _mm256_blend_epi32(
      _mm256_setzero_si256(), _mm256_permutevar8x32_epi32(v, _mm256_set1_epi32(3)), 0xF0);
  return _mm256_add_epi32(v, carry);
}

// The scalar scan eight bytes at a time, with the running total broadcast.
__attribute__((target("avx2"))) void prefix_sums_avx2(const uint8_t *in, int n, int32_t *out,
                                                      int32_t *out2) {
  out[0] = 0;
  out2[0] = 0;
  __m256i total = _mm256_setzero_si256();
  __m256i total2 = _mm256_setzero_si256();
  const __m256i last = _mm256_set1_epi32(7);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i bytes;
    std::memcpy(&bytes, in + i, 8);
    const __m256i v = _mm256_cvtepu8_epi32(bytes);
    const __m256i v2 = _mm256_mullo_epi32(v, v);
    const __m256i s = _mm256_add_epi32(scan8(v), total);
    const __m256i s2 = _mm256_add_epi32(scan8(v2), total2);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + i + 1), s);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out2 + i + 1), s2);
    total = _mm256_permutevar8x32_epi32(s, last);
    total2 = _mm256_permutevar8x32_epi32(s2, last);
  }
  int32_t sum = out[i];
  int32_t sum2 = out2[i];
  for (; i < n; ++i) {
    const int32_t value = in[i];
    sum += value;
    sum2 += value * value;
    out[i + 1] = sum;
    out2[i + 1] = sum2;
  }
}
#endif

using PrefixFn = void (*)(const uint8_t *, int, int32_t *, int32_t *);

PrefixFn pick_prefix_sums() {
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    return prefix_sums_avx2;
  }
#endif
  return prefix_sums_scalar;
}

const PrefixFn prefix_sums = pick_prefix_sums();

}  // namespace

uint8_t skin_weight(uint8_t cb, uint8_t cr) {
  return skin_table().weight[cb][cr];
}

struct Processor::Band {
  int y0 = 0;
  int y1 = 0;
  int ring_rows = 0;
  // Box sums fit in int32 for radius <= kMaxRadius: 255^2 * 129^2 < 2^31.
  std::vector<int32_t> ring;   // box row sums of I, ring_rows x width
  std::vector<int32_t> ring2;  // box row sums of I^2
  std::vector<int32_t> col;    // window sums of I for the current row
  std::vector<int32_t> col2;   // window sums of I^2
  std::vector<int32_t> prefix;
  std::vector<int32_t> prefix2;
  std::vector<uint8_t> padded;
  std::vector<uint8_t> halo;  // rows y1 .. y1+r of the input, before the next band writes them
  int halo_rows = 0;
  std::vector<uint8_t> mask_row;  // chroma-resolution mask expanded to luma width
};

Processor::Processor() = default;
Processor::~Processor() = default;

void Processor::set_threads(int n_threads) {
  if (n_threads <= 0) {
    n_threads = std::max(1u, std::thread::hardware_concurrency());
  }
  if (n_threads == n_threads_ && (pool_ || n_threads == 1)) {
    return;
  }
  n_threads_ = n_threads;
  pool_ = n_threads > 1 ? std::make_unique<WorkerPool>(n_threads) : nullptr;
}

bool Processor::is_identity(const Params &params) {
  return params.smoothing <= 0.0 && params.whitening <= 0.0;
}

namespace {

// Prefix sums of one row with its edge pixels replicated r times on each
// side, so the box sum centred on x is prefix[x + 2r + 1] - prefix[x].
void padded_prefix_sums(const uint8_t *src, int width, int r, std::vector<uint8_t> &padded,
                        std::vector<int32_t> &prefix, std::vector<int32_t> &prefix2) {
  std::memset(padded.data(), src[0], r);
  std::memcpy(padded.data() + r, src, width);
  std::memset(padded.data() + r + width, src[width - 1], r);
  prefix_sums(padded.data(), width + 2 * r, prefix.data(), prefix2.data());
}

}  // namespace

void Processor::run_band_prepare(Band &band) {
  const Frame &f = *frame_;
  const int width = f.width;
  // Skin mask for the chroma rows whose luma rows belong to this band.
  if (params_.skin_only) {
    const int chroma_width = (width + 1) / 2;
    for (int cy = band.y0 / 2; cy < (band.y1 + 1) / 2; ++cy) {
      uint8_t *__restrict dst = mask_.data() + static_cast<size_t>(cy) * mask_stride_;
      const uint8_t *__restrict u = f.u + static_cast<size_t>(cy) * f.u_stride;
      const auto &weight = skin_table().weight;
      if (f.v) {
        const uint8_t *__restrict v = f.v + static_cast<size_t>(cy) * f.v_stride;
        for (int cx = 0; cx < chroma_width; ++cx) {
          dst[cx] = weight[u[cx]][v[cx]];
        }
      } else {
        for (int cx = 0; cx < chroma_width; ++cx) {
          dst[cx] = weight[u[2 * cx]][u[2 * cx + 1]];
        }
      }
      const uint8_t top = *std::max_element(dst, dst + chroma_width);
      mask_row_max_[cy] = top;
    }
  }
  if (params_.smoothing <= 0.0) {
    return;
  }
  const int r = params_.radius;
  const int last = f.height - 1;
  // Window sums for the band's first row (rows y0-r .. y0+r, edges replicated).
  std::fill(band.col.begin(), band.col.end(), 0);
  std::fill(band.col2.begin(), band.col2.end(), 0);
  for (int i = 0; i < band.ring_rows; ++i) {
    const int yy = std::clamp(band.y0 - r + i, 0, last);
    int32_t *hs = band.ring.data() + static_cast<size_t>(i) * width;
    int32_t *hs2 = band.ring2.data() + static_cast<size_t>(i) * width;
    std::fill(hs, hs + width, 0);
    std::fill(hs2, hs2 + width, 0);
    padded_prefix_sums(f.y + static_cast<size_t>(yy) * f.y_stride, width, r, band.padded,
                       band.prefix, band.prefix2);
    replace_row_sums(band.prefix.data(), band.prefix2.data(), 2 * r + 1, width, hs, hs2,
                     band.col.data(), band.col2.data());
  }
  // The next band overwrites its rows while this one still needs them.
  band.halo_rows = std::max(0, std::min(last, band.y1 + r) - band.y1 + 1);
  for (int i = 0; i < band.halo_rows; ++i) {
    std::memcpy(band.halo.data() + static_cast<size_t>(i) * width,
                f.y + static_cast<size_t>(band.y1 + i) * f.y_stride, width);
  }
}

void Processor::run_band_filter(Band &band) {
  const Frame &f = *frame_;
  const int width = f.width;
  const int r = params_.radius;
  const int last = f.height - 1;
  const bool smooth = params_.smoothing > 0.0;
  const double sigma = 4.0 + 12.0 * params_.smoothing;
  const int span = 2 * r + 1;
  RowParams p{};
  p.inv_area = 1.0f / static_cast<float>(span * span);
  p.eps = static_cast<float>(sigma * sigma);
  p.smooth_blend = static_cast<float>(params_.smoothing);
  p.white = static_cast<float>(0.5 * params_.whitening);
  const bool whiten = params_.whitening > 0.0;
  int mask_cy = -1;

  for (int y = band.y0; y < band.y1; ++y) {
    uint8_t *row = f.y + static_cast<size_t>(y) * f.y_stride;
    bool touch = true;
    if (params_.skin_only) {
      const int cy = y / 2;
      touch = mask_row_max_[cy] != 0;
      if (touch && cy != mask_cy) {
        const uint8_t *__restrict src = mask_.data() + static_cast<size_t>(cy) * mask_stride_;
        uint8_t *__restrict dst = band.mask_row.data();
        for (int x = 0; x < width; ++x) {
          dst[x] = src[x >> 1];
        }
        mask_cy = cy;
      }
    }
    if (touch && (smooth || whiten)) {
      filter_row(row, band.col.data(), band.col2.data(), band.mask_row.data(), width, p, smooth,
                 params_.skin_only);
    }
    if (!smooth || y + 1 == band.y1) {
      continue;
    }
    // Slide the window down: drop row y-r, add row y+r+1.
    const int slot = (y - band.y0) % band.ring_rows;
    int32_t *hs = band.ring.data() + static_cast<size_t>(slot) * width;
    int32_t *hs2 = band.ring2.data() + static_cast<size_t>(slot) * width;
    const int incoming = std::min(y + r + 1, last);
    const uint8_t *src = incoming >= band.y1
                             ? band.halo.data() + static_cast<size_t>(incoming - band.y1) * width
                             : f.y + static_cast<size_t>(incoming) * f.y_stride;
    padded_prefix_sums(src, width, r, band.padded, band.prefix, band.prefix2);
    replace_row_sums(band.prefix.data(), band.prefix2.data(), span, width, hs, hs2, band.col.data(),
                     band.col2.data());
  }
}

void Processor::process(const Frame &frame, const Params &params) {
  if (is_identity(params) || frame.width <= 0 || frame.height <= 0) {
    return;
  }
  frame_ = &frame;
  params_ = params;
  params_.radius = std::clamp(params.radius, 1, kMaxRadius);
  params_.smoothing = std::clamp(params.smoothing, 0.0, 1.0);
  params_.whitening = std::clamp(params.whitening, 0.0, 1.0);
  const int width = frame.width;
  const int height = frame.height;
  const int r = params_.radius;

  if (params_.skin_only) {
    mask_stride_ = (width + 1) / 2;
    mask_.resize(static_cast<size_t>(mask_stride_) * ((height + 1) / 2));
    mask_row_max_.resize((height + 1) / 2);
  }

  // Bands start on even rows (one chroma row never spans two bands) and are
  // tall enough that a band's window never reaches past its neighbour.
  const int min_rows = std::max(2 * (r + 1), 16);
  const int n_bands = std::clamp(height / min_rows, 1, n_threads_);
  bands_.resize(std::max<size_t>(bands_.size(), n_bands));
  for (int i = 0; i < n_bands; ++i) {
    if (!bands_[i]) {
      bands_[i] = std::make_unique<Band>();
    }
    Band &band = *bands_[i];
    band.y0 = i == 0 ? 0 : ((height * i / n_bands) & ~1);
    band.y1 = i + 1 == n_bands ? height : ((height * (i + 1) / n_bands) & ~1);
    band.ring_rows = 2 * r + 1;
    const size_t w = static_cast<size_t>(width);
    if (params_.smoothing > 0.0) {
      band.ring.resize(w * band.ring_rows);
      band.ring2.resize(w * band.ring_rows);
      band.col.resize(w);
      band.col2.resize(w);
      band.prefix.resize(w + 2 * r + 1);
      band.prefix2.resize(w + 2 * r + 1);
      band.padded.resize(w + 2 * r);
      band.halo.resize(w * (r + 1));
    }
    band.mask_row.resize(w);
  }

  auto prepare = [this](int i) { run_band_prepare(*bands_[i]); };
  auto filter = [this](int i) { run_band_filter(*bands_[i]); };
  if (pool_) {
    pool_->run(n_bands, prepare);
    pool_->run(n_bands, filter);
  } else {
    for (int i = 0; i < n_bands; ++i) {
      prepare(i);
    }
    for (int i = 0; i < n_bands; ++i) {
      filter(i);
    }
  }
  frame_ = nullptr;
}

}  // namespace livepipe::beauty
