// CPU kernels of the fused GDNSQ quantizer (GDNSQ.md §2): one pass forward, one pass backward
// (a second, read-only pass first only for the adaptive `aewgs` variant). Plain pointers, no
// libtorch types, so the loops are easy to read and to vectorize; quantizer.cc owns the tensors.
#pragma once
#include <cstdint>
#include <vector>

namespace gdnsq::quant {

enum class Method { kNoise, kLsq, kEwgs, kAewgs };

// x (contiguous) viewed as [outer, channels, inner]; per-tensor quantization is channels = 1.
struct Layout {
  int64_t outer, channels, inner;
  int64_t numel() const { return outer * channels * inner; }
};

// One value per channel, read once per row of `inner` elements.
template <typename T>
struct Params {
  const T* lo;
  const T* hi;
  const T* s;  // 2^sigma, computed by ATen's exp2 so the reference gets the same bits
};

// Per-channel sums of the backward pass, in double whatever T is.
struct ChannelSums {
  std::vector<double> below;  // Σ g over x < lo   (= dL/dlo)
  std::vector<double> above;  // Σ g over x > hi   (= dL/dhi)
  std::vector<double> ge;     // Σ g·e             (LSQ part of dL/ds)
  std::vector<double> gsign;  // Σ g·(±1), the random signs of the noise variant (0 otherwise)
};

// y = round((clamp(x, lo, hi) − lo)/s)·s + lo, rounding half to even.
template <typename T>
void Forward(const T* x, T* y, Layout layout, Params<T> p);

// dx = 1[lo ≤ x ≤ hi]·g, or with the EWGS term g·max(1 − δ_c·sign(g)·e, 0.01) (= g − δ|g|e
// while the factor stays above the floor, as the reference clamps it) when method is ewgs/aewgs.
// delta: one value for ewgs; ignored otherwise (aewgs computes its own per channel).
// noise: draw the random signs of the noise-scale step gradient (gsign); the reference keeps it
// for ewgs/aewgs too, so it is a flag of its own rather than a property of the method.
// seed: the random signs (element i uses bit i mod 64 of output i/64 of a SplitMix64 stream
// started at seed: 64 signs per 64-bit draw, independent of threading).
template <typename T>
ChannelSums Backward(const T* x, const T* g, T* dx, Layout layout, Params<T> p, Method method, double delta,
                     bool noise, uint64_t seed);

// The aewgs step size per channel, as the authors' code computes it: mean(sign(g)·e) /
// max(var(e), 1e-3) over the elements inside [lo, hi], not clamped (the input-gradient factor
// is floored instead); 0 for a channel with no inside element.
template <typename T>
std::vector<double> AdaptiveDelta(const T* x, const T* g, Layout layout, Params<T> p);

// The sign word of 32 consecutive elements starting at global index 32·block (bit k ↔ element
// 32·block + k; 1 means +). Exposed so the ATen fallback draws the very same signs.
uint32_t SignWord(uint64_t seed, int64_t block);

}  // namespace gdnsq::quant
