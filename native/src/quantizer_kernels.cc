// The fused quantizer's CPU loops. Vectorization notes (checked with -fopt-info-vec):
// - rounding is the add-and-subtract-2^mantissa trick: exact round-half-to-even for 0 ≤ v < 2^p
//   under the default rounding mode, branch-free, and it needs no SSE4.1 `roundps` nor libm
//   (its select vectorizes only with -fno-trapping-math, set in binding.gyp);
// - clamp is written as `x < lo ? lo : x`, which compiles to maxps with torch.clamp's NaN rule;
// - reductions accumulate into 32 independent lanes (fixed-trip inner loop), which the compiler
//   vectorizes without -ffast-math, then the lanes are summed in double once per row piece;
// - -ffp-contract=off (binding.gyp) keeps `code·s + lo` a multiply then an add, as in ATen, so
//   the output is bit-identical to the tensor-op reference.
// Work is split into fixed chunks of the flat index, independent of the thread count, and the
// per-chunk sums are added in chunk order: results are deterministic for any number of threads.
#include "quantizer_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace gdnsq::quant {

namespace {

constexpr int64_t kChunk = 16384;  // elements per partial sum: multiple of kLanes, fits L2 with g and dx
constexpr int64_t kGrain = 4;      // chunks per thread at least: small tensors stay on the calling thread
constexpr int kLanes = 32;         // one sign word covers one lane block

// Bit l of a sign word as a table load (a constant vector), not a variable shift per lane,
// which SSE2 and AVX lack.
alignas(64) constexpr uint32_t kBit[kLanes] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,  1u << 8,  1u << 9,  1u << 10,
    1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15, 1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21,
    1u << 22, 1u << 23, 1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

template <typename T> struct Magic;
template <> struct Magic<float> { static constexpr float v = 8388608.0f; };            // 2^23
template <> struct Magic<double> { static constexpr double v = 4503599627370496.0; };  // 2^52

// v ≥ 0 here (c ≥ lo, s > 0); values ≥ 2^p are already integers; NaN stays NaN.
template <typename T>
inline T RoundHalfEven(T v) {
  const T m = Magic<T>::v;
  T r = (v + m) - m;
  return v < m ? r : v;
}

template <typename T>
inline T Clamp(T x, T lo, T hi) {
  T c = x < lo ? lo : x;
  return c > hi ? hi : c;
}

inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Calls piece(chunk, begin, end, channel) for every row piece of the chunks [cb, ce): a piece never
// crosses a row, so it has one set of parameters.
template <typename F>
void ForPieces(Layout L, int64_t cb, int64_t ce, F&& piece) {
  const int64_t n = L.numel();
  for (int64_t k = cb; k < ce; ++k) {
    int64_t pos = k * kChunk, end = std::min(n, pos + kChunk);
    while (pos < end) {
      int64_t row = pos / L.inner;
      int64_t rowEnd = std::min(end, (row + 1) * L.inner);
      piece(k, pos, rowEnd, row % L.channels);
      pos = rowEnd;
    }
  }
}

int64_t NumChunks(Layout L) { return (L.numel() + kChunk - 1) / kChunk; }

// Four per-element contributions to the chunk's per-channel sums.
template <typename T>
struct Four {
  T q[4];
};

// Adds body(i, lane, word) over the global indices [b, e) into dst[0..3] (doubles). Long pieces run
// as fixed blocks of kLanes into 32 lane accumulators, a shape the compiler vectorizes without
// reassociating anything; short pieces and the unaligned head and tail go one element at a time.
// word(block) is evaluated once per block of kLanes (the noise variant's sign word).
template <typename T, typename W, typename B>
inline void Accumulate(int64_t b, int64_t e, W&& word, B&& body, double* dst) {
  double s[4] = {0, 0, 0, 0};
  auto scalar = [&](int64_t i) {
    const Four<T> f = body(i, static_cast<int>(i & (kLanes - 1)), word(i / kLanes));
    for (int q = 0; q < 4; ++q) s[q] += f.q[q];
  };
  int64_t i = b;
  if (e - b >= 2 * kLanes) {
    for (; (i & (kLanes - 1)) != 0; ++i) scalar(i);
    T acc[4][kLanes] = {};
    for (; i + kLanes <= e; i += kLanes) {
      const uint32_t w = word(i / kLanes);
      for (int l = 0; l < kLanes; ++l) {
        const Four<T> f = body(i + l, l, w);
        for (int q = 0; q < 4; ++q) acc[q][l] += f.q[q];
      }
    }
    for (int q = 0; q < 4; ++q)
      for (int l = 0; l < kLanes; ++l) s[q] += acc[q][l];
  }
  for (; i < e; ++i) scalar(i);
  for (int q = 0; q < 4; ++q) dst[q] += s[q];
}

// The floor of the EWGS input-gradient factor (the reference's clamp_max(1 − 0.01)).
template <typename T>
constexpr T kEwFloor = T(0.01);

template <typename T, bool kNoise, bool kEw>
void BackwardImpl(const T* x, const T* g, T* dx, Layout L, Params<T> p, const double* delta, uint64_t seed,
                  std::vector<double>& part) {
  const int64_t C = L.channels;
  at::parallel_for(0, NumChunks(L), kGrain, [&](int64_t cb, int64_t ce) {
    ForPieces(L, cb, ce, [&](int64_t k, int64_t b, int64_t e, int64_t c) {
      const T lo = p.lo[c], hi = p.hi[c], s = p.s[c];
      const T d = kEw ? static_cast<T>(delta[c]) : T(0);
      auto word = [&](int64_t block) -> uint32_t { return kNoise ? SignWord(seed, block) : 0u; };
      Accumulate<T>(b, e, word, [&](int64_t i, int l, uint32_t w) -> Four<T> {
        const T xv = x[i], gv = g[i];
        const T v = (Clamp(xv, lo, hi) - lo) / s;
        const T err = RoundHalfEven(v) - v;
        const bool inside = (xv >= lo) & (xv <= hi);
        if (kEw) {
          const T sg = gv > T(0) ? T(1) : (gv < T(0) ? T(-1) : T(0));
          dx[i] = inside ? gv * std::max(T(1) - d * sg * err, kEwFloor<T>) : T(0);
        }
        else dx[i] = inside ? gv : T(0);
        const T sign = kNoise ? ((w & kBit[l]) ? gv : -gv) : T(0);
        return {{xv < lo ? gv : T(0), xv > hi ? gv : T(0), gv * err, sign}};
      }, &part[(k * C + c) * 4]);
    });
  });
}

template <typename T>
void StatsImpl(const T* x, const T* g, Layout L, Params<T> p, std::vector<double>& part) {
  const int64_t C = L.channels;
  at::parallel_for(0, NumChunks(L), kGrain, [&](int64_t cb, int64_t ce) {
    ForPieces(L, cb, ce, [&](int64_t k, int64_t b, int64_t e, int64_t c) {
      const T lo = p.lo[c], hi = p.hi[c], s = p.s[c];
      auto word = [](int64_t) -> uint32_t { return 0u; };
      Accumulate<T>(b, e, word, [&](int64_t i, int, uint32_t) -> Four<T> {
        const T xv = x[i], gv = g[i];
        const T v = (Clamp(xv, lo, hi) - lo) / s;
        const T err = RoundHalfEven(v) - v;
        const bool inside = (xv >= lo) & (xv <= hi);
        const T sg = gv > T(0) ? T(1) : (gv < T(0) ? T(-1) : T(0));
        return {{inside ? sg * err : T(0), inside ? err : T(0), inside ? err * err : T(0), inside ? T(1) : T(0)}};
      }, &part[(k * C + c) * 4]);
    });
  });
}

// Adds the chunks' partial sums in chunk order: out[q][c] = Σ_k part[k][c][q].
std::vector<std::vector<double>> Reduce(const std::vector<double>& part, int64_t chunks, int64_t C) {
  std::vector<std::vector<double>> out(4, std::vector<double>(static_cast<size_t>(C), 0.0));
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int q = 0; q < 4; ++q) out[q][c] += part[(k * C + c) * 4 + q];
  return out;
}

}  // namespace

uint32_t SignWord(uint64_t seed, int64_t block) {
  // Element 64·j + k takes bit k of the j-th output of a SplitMix64 stream started at seed.
  const uint64_t h = SplitMix64(seed + static_cast<uint64_t>(block >> 1) * 0x9E3779B97F4A7C15ull);
  return static_cast<uint32_t>(h >> ((block & 1) * 32));
}

template <typename T>
void Forward(const T* __restrict x, T* __restrict y, Layout L, Params<T> p) {
  at::parallel_for(0, NumChunks(L), kGrain, [&](int64_t cb, int64_t ce) {
    ForPieces(L, cb, ce, [&](int64_t, int64_t b, int64_t e, int64_t c) {
      const T lo = p.lo[c], hi = p.hi[c], s = p.s[c];
      const T* __restrict xs = x + b;
      T* __restrict ys = y + b;
      for (int64_t i = 0; i < e - b; ++i) {
        const T code = RoundHalfEven((Clamp(xs[i], lo, hi) - lo) / s);
        ys[i] = code * s + lo;
      }
    });
  });
}

template <typename T>
ChannelSums Backward(const T* x, const T* g, T* dx, Layout L, Params<T> p, Method method, double delta,
                     bool noise, uint64_t seed) {
  const int64_t C = L.channels, chunks = NumChunks(L);
  std::vector<double> deltas;
  if (method == Method::kEwgs) deltas.assign(static_cast<size_t>(C), delta);
  if (method == Method::kAewgs) deltas = AdaptiveDelta(x, g, L, p);
  std::vector<double> part(static_cast<size_t>(chunks * C * 4), 0.0);
  const bool ew = method == Method::kEwgs || method == Method::kAewgs;
  if (ew && noise) BackwardImpl<T, true, true>(x, g, dx, L, p, deltas.data(), seed, part);
  else if (ew) BackwardImpl<T, false, true>(x, g, dx, L, p, deltas.data(), seed, part);
  else if (noise) BackwardImpl<T, true, false>(x, g, dx, L, p, nullptr, seed, part);
  else BackwardImpl<T, false, false>(x, g, dx, L, p, nullptr, seed, part);
  auto r = Reduce(part, chunks, C);
  return ChannelSums{std::move(r[0]), std::move(r[1]), std::move(r[2]), std::move(r[3])};
}

// The reference's floor of var(e) in the aewgs δ.
constexpr double kAewgsVarFloor = 1e-3;

template <typename T>
std::vector<double> AdaptiveDelta(const T* x, const T* g, Layout L, Params<T> p) {
  const int64_t C = L.channels, chunks = NumChunks(L);
  std::vector<double> part(static_cast<size_t>(chunks * C * 4), 0.0);
  StatsImpl<T>(x, g, L, p, part);
  auto r = Reduce(part, chunks, C);
  std::vector<double> delta(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    const double n = r[3][c];
    if (!(n > 0)) continue;
    const double mean = r[1][c] / n, var = r[2][c] / n - mean * mean;
    delta[c] = r[0][c] / n / std::max(var, kAewgsVarFloor);
  }
  return delta;
}

template void Forward<float>(const float*, float*, Layout, Params<float>);
template void Forward<double>(const double*, double*, Layout, Params<double>);
template ChannelSums Backward<float>(const float*, const float*, float*, Layout, Params<float>, Method, double, bool,
                                    uint64_t);
template ChannelSums Backward<double>(const double*, const double*, double*, Layout, Params<double>, Method, double,
                                      bool, uint64_t);
template std::vector<double> AdaptiveDelta<float>(const float*, const float*, Layout, Params<float>);
template std::vector<double> AdaptiveDelta<double>(const double*, const double*, Layout, Params<double>);

}  // namespace gdnsq::quant
