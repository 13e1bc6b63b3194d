// Low-bit convolution kernels (see lowbit_kernels.h for the arithmetic and the layouts).
// Each output pixel builds its im2col row of codes once (bit planes or bytes) into a per-thread
// buffer, then dots it with every output channel's packed weights: the row stays in registers
// and L1 while the weights of one 64-channel block (a few KiB) stream from L1. The integer sums
// are exact; the epilogue applies the per-channel affine (folded BatchNorm), the optional bias
// map and residual, and the ReLU in fp32. Work is split over (image, output row) with
// at::parallel_for, so libtorch's thread setting governs it. Without AVX-512 (GDNSQ_PORTABLE=1
// builds, other CPUs) plain loops compute the same integers.
#include "lowbit_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <climits>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12 warns inside its own AVX-512 headers (the _mm512_undefined_* idiom): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__AVX512F__) && defined(__AVX512VPOPCNTDQ__)
#define GDNSQ_AVX512_POPCNT 1
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define GDNSQ_AVX512_VNNI 1
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define GDNSQ_AVX512_BW 1
#endif

namespace gdnsq::lowbit {

bool HasAvx512Popcnt() {
#ifdef GDNSQ_AVX512_POPCNT
  return true;
#else
  return false;
#endif
}
bool HasAvx512Vnni() {
#ifdef GDNSQ_AVX512_VNNI
  return true;
#else
  return false;
#endif
}

namespace {

// round((clamp(x, lo, hi) − lo)/s) as the fused quantizer computes it: a true division and
// round-half-to-even, so the codes are the training-time codes bit for bit.
inline int32_t Code(float x, const ActGrid& g) {
  float c = x < g.lo ? g.lo : x;
  c = c > g.hi ? g.hi : c;
  return static_cast<int32_t>(std::nearbyint((c - g.lo) / g.s));
}

#if defined(__AVX512F__)
inline __m512i Codes16(const float* x, __mmask16 m, const ActGrid& g) {
  __m512 v = _mm512_maskz_loadu_ps(m, x);
  if (g.nthr) {
    __m512i q = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi32(1);
    for (int k = 0; k < g.nthr; ++k) q = _mm512_mask_add_epi32(q, _mm512_cmp_ps_mask(v, _mm512_set1_ps(g.thr[k]), _CMP_GE_OQ), q, one);
    return q;
  }
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(g.lo)), _mm512_set1_ps(g.hi));
  v = _mm512_div_ps(_mm512_sub_ps(v, _mm512_set1_ps(g.lo)), _mm512_set1_ps(g.s));
  return _mm512_cvtps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
#endif

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// ---- codes of one pixel ----------------------------------------------------------------------

#if defined(__AVX512F__)
// PixelPlanes for C ≤ 64 and BITS ≤ 4, the planes in registers. Each plane is stored as one
// 8-byte word: the bytes past the chunk belong to pixels to its right (written after it) or to
// the zero padding and slack of the row, so writing zeros there is harmless.
template <int BITS>
inline void PixelPlanesSmall(const float* xp, int64_t c, const ActGrid& g, uint8_t* dst, int64_t stride) {
  uint64_t w[BITS] = {};
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = c - c0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (c - c0)) - 1);
    const __m512i q = Codes16(xp + c0, m, g);
    for (int i = 0; i < BITS; ++i) w[i] |= static_cast<uint64_t>(_mm512_mask_test_epi32_mask(m, q, _mm512_set1_epi32(1 << i))) << c0;
  }
  for (int i = 0; i < BITS; ++i) std::memcpy(dst + i * stride, &w[i], 8);
}
#endif

// The codes of the C channels at xp as `bits` chunks of cbytes bytes, plane i at dst + i·stride.
inline void PixelPlanes(const float* xp, int64_t c, const ActGrid& g, int bits, int64_t cbytes, uint8_t* dst, int64_t stride) {
#if defined(__AVX512F__)
  if (c <= 64) {
    switch (bits) {
      case 1: return PixelPlanesSmall<1>(xp, c, g, dst, stride);
      case 2: return PixelPlanesSmall<2>(xp, c, g, dst, stride);
      case 3: return PixelPlanesSmall<3>(xp, c, g, dst, stride);
      case 4: return PixelPlanesSmall<4>(xp, c, g, dst, stride);
      default: break;
    }
  }
#endif
  uint64_t words[8][8];  // [plane][64-channel word]: C ≤ 512; only the words in use are cleared
  const int64_t nw = (c + 63) / 64;
  for (int i = 0; i < bits; ++i)
    for (int64_t q = 0; q < nw; ++q) words[i][q] = 0;
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
#if defined(__AVX512F__)
    const __mmask16 m = c - c0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (c - c0)) - 1);
    const __m512i q = Codes16(xp + c0, m, g);
    for (int i = 0; i < bits; ++i)
      words[i][c0 >> 6] |= static_cast<uint64_t>(_mm512_mask_test_epi32_mask(m, q, _mm512_set1_epi32(1 << i))) << (c0 & 63);
#else
    for (int64_t ch = c0; ch < std::min(c, c0 + 16); ++ch) {
      const int32_t q = Code(xp[ch], g);
      for (int i = 0; i < bits; ++i)
        if ((q >> i) & 1) words[i][ch >> 6] |= uint64_t(1) << (ch & 63);
    }
#endif
  }
  for (int i = 0; i < bits; ++i) std::memcpy(dst + i * stride, words[i], cbytes);
}

// The codes of the C channels at xp as bytes (the padding channels stay as they are: zero).
inline void PixelBytes(const float* xp, int64_t c, const ActGrid& g, uint8_t* out) {
#if defined(__AVX512F__)
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = c - c0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (c - c0)) - 1);
    _mm_mask_storeu_epi8(out + c0, m, _mm512_cvtepi32_epi8(Codes16(xp + c0, m, g)));
  }
#else
  for (int64_t ch = 0; ch < c; ++ch) out[ch] = static_cast<uint8_t>(Code(xp[ch], g));
#endif
}

// Pixel (n, y, x) of an input of shape s into its padded code image.
inline void WritePixelCodes(const float* xp, const ConvShape& s, const ActGrid& g, int bits, bool bytes, int64_t n, int64_t y, int64_t x, uint8_t* dst) {
  if (bytes) {
    PixelBytes(xp, s.c, g, dst + (n * s.PaddedH() + y + s.ph) * s.ByteRowBytes() + (x + s.pw) * TapBytes(s.c));
  } else {
    const int64_t cbytes = ChunkBits(s.c) / 8;
    PixelPlanes(xp, s.c, g, bits, cbytes, dst + (n * s.PaddedH() + y + s.ph) * s.BitRowBytes() + (x + s.pw) * cbytes, s.PlaneBytes());
  }
}

// ---- epilogue -------------------------------------------------------------------------------

// Where the fp32 outputs of pixel pix go: the output tensor, or scratch when only codes are wanted.
inline float* OutRow(float* out, int64_t pix, int64_t o_count, float* scratch) { return out ? out + pix * o_count : scratch; }

// After a pixel's outputs are final: their codes for the next convolution, if it asked.
inline void EmitNext(const Epilogue& e, int64_t n, int64_t oy, int64_t ox, const float* y) {
  if (e.next) WritePixelCodes(y, e.next->shape, e.next->g, e.next->bits, e.next->bytes, n, oy, ox, e.next->dst);
}

// One output pixel from its exact integer sums acc[o] and window code sum (plain loop).
inline void Finish(const int64_t* acc, int64_t sumq, const Epilogue& e, int64_t o_count, int64_t pos, int64_t pix, float* y) {
  const float sq = static_cast<float>(sumq);
  const float* bm = e.bias_map ? e.bias_map + pos * o_count : nullptr;
  const float* res = e.residual ? e.residual + pix * o_count : nullptr;
  for (int64_t o = 0; o < o_count; ++o) {
    float v = e.alpha[o] * static_cast<float>(acc[o]) + (e.beta[o] * sq + e.gamma[o]);
    if (bm) v += bm[o];
    if (res) v += res[o];
    y[o] = e.relu && v < 0.0f ? 0.0f : v;
  }
}

#ifdef GDNSQ_AVX512_POPCNT
// The same for NV·8 channels from ob with the sums in registers.
template <int NV>
inline void StoreBlock(const __m512i* total, float sumq, const Epilogue& e, int64_t o_count, int64_t ob, const float* bm, const float* res, float* y) {
  const __m256 sq = _mm256_set1_ps(sumq);
  for (int v = 0; v < NV; ++v) {
    const int64_t o = ob + 8 * v;
    const __mmask8 m = o_count - o >= 8 ? __mmask8(0xFF) : __mmask8((1u << (o_count - o)) - 1);
    __m256 r = _mm256_mul_ps(_mm256_maskz_loadu_ps(m, e.alpha + o), _mm512_cvtepi64_ps(total[v]));
    r = _mm256_add_ps(r, _mm256_add_ps(_mm256_mul_ps(_mm256_maskz_loadu_ps(m, e.beta + o), sq), _mm256_maskz_loadu_ps(m, e.gamma + o)));
    if (bm) r = _mm256_add_ps(r, _mm256_maskz_loadu_ps(m, bm + o));
    if (res) r = _mm256_add_ps(r, _mm256_maskz_loadu_ps(m, res + o));
    if (e.relu) r = _mm256_max_ps(r, _mm256_setzero_ps());
    _mm256_mask_storeu_ps(y + o, m, r);
  }
}
#endif

template <typename Row>
void ForOutputRows(const ConvShape& s, Row&& row) {
  at::parallel_for(0, s.n * s.ho, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) row(r / s.ho, r % s.ho);
  });
}

// ---- bit-serial, any shape ------------------------------------------------------------------

// The im2col row of output pixel (n, oy, ox), plane by plane: kernel row ky is the kw chunks
// starting at padded pixel ox·sw of padded input row oy·sh + ky, copied as whole words.
inline void BuildBitRow(const uint8_t* planes, int abits, const ConvShape& s, int64_t n, int64_t oy, int64_t ox, uint64_t* rows) {
  const int64_t cbytes = ChunkBits(s.c) / 8, gw = s.GroupWords(), kwords = s.KWords(), rb = s.BitRowBytes(), pb = s.PlaneBytes();
  const int tail = static_cast<int>((s.kw * ChunkBits(s.c)) & 63);
  const uint64_t last = tail ? (uint64_t(1) << tail) - 1 : ~uint64_t(0);
  for (int i = 0; i < abits; ++i) {
    const uint8_t* img = planes + i * pb + (n * s.PaddedH() + oy * s.sh) * rb + ox * s.sw * cbytes;
    uint64_t* r = rows + i * kwords;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const uint8_t* src = img + ky * rb;
      for (int64_t q = 0; q < gw; ++q) r[ky * gw + q] = Load64(src + 8 * q);
      r[ky * gw + gw - 1] &= last;
    }
  }
}

#ifdef GDNSQ_AVX512_POPCNT
template <int NV>
void PopcountBlock(const uint64_t* rows, int abits, const uint64_t* wplanes, int wbits, int64_t kwords, int64_t opad, int64_t ob, __m512i* total) {
  for (int v = 0; v < NV; ++v) total[v] = _mm512_setzero_si512();
  for (int j = 0; j < wbits; ++j) {
    const uint64_t* wj = wplanes + j * kwords * opad + ob;
    for (int i = 0; i < abits; ++i) {
      const uint64_t* a = rows + i * kwords;
      __m512i t[NV];
      for (int v = 0; v < NV; ++v) t[v] = _mm512_setzero_si512();
      for (int64_t k = 0; k < kwords; ++k) {
        const __m512i av = _mm512_set1_epi64(static_cast<long long>(a[k]));
        const uint64_t* wk = wj + k * opad;
        for (int v = 0; v < NV; ++v) t[v] = _mm512_add_epi64(t[v], _mm512_popcnt_epi64(_mm512_and_si512(av, _mm512_loadu_si512(wk + 8 * v))));
      }
      const __m512i sh = _mm512_set1_epi64(i + j);
      for (int v = 0; v < NV; ++v) total[v] = _mm512_add_epi64(total[v], _mm512_sllv_epi64(t[v], sh));
    }
  }
}

template <int NV>
void PopcountStore(const uint64_t* rows, int abits, const uint64_t* wplanes, int wbits, int64_t kwords, int64_t opad, int64_t ob,
                   float sq, const Epilogue& e, int64_t o_count, const float* bm, const float* res, float* y) {
  __m512i total[NV];
  PopcountBlock<NV>(rows, abits, wplanes, wbits, kwords, opad, ob, total);
  StoreBlock<NV>(total, sq, e, o_count, ob, bm, res, y);
}

void PopcountPixel(const uint64_t* rows, int abits, const uint64_t* wplanes, int wbits, const ConvShape& s, int64_t sumq,
                   const Epilogue& e, int64_t pos, int64_t pix, float* y) {
  const int64_t kwords = s.KWords(), opad = PadTo(s.o, 8);
  const float* bm = e.bias_map ? e.bias_map + pos * s.o : nullptr;
  const float* res = e.residual ? e.residual + pix * s.o : nullptr;
  const float sq = static_cast<float>(sumq);
  for (int64_t ob = 0; ob < opad; ob += 64) {
    switch (std::min<int64_t>(8, (opad - ob) / 8)) {
#define GDNSQ_BLOCK(NV) case NV: PopcountStore<NV>(rows, abits, wplanes, wbits, kwords, opad, ob, sq, e, s.o, bm, res, y); break;
      GDNSQ_BLOCK(1) GDNSQ_BLOCK(2) GDNSQ_BLOCK(3) GDNSQ_BLOCK(4) GDNSQ_BLOCK(5) GDNSQ_BLOCK(6) GDNSQ_BLOCK(7)
#undef GDNSQ_BLOCK
      default: PopcountStore<8>(rows, abits, wplanes, wbits, kwords, opad, ob, sq, e, s.o, bm, res, y); break;
    }
  }
}
#else
void PopcountPixel(const uint64_t* rows, int abits, const uint64_t* wplanes, int wbits, const ConvShape& s, int64_t sumq,
                   const Epilogue& e, int64_t pos, int64_t pix, float* y) {
  const int64_t kwords = s.KWords(), opad = PadTo(s.o, 8);
  int64_t acc[512];
  for (int64_t o = 0; o < s.o; ++o) {
    int64_t sum = 0;
    for (int j = 0; j < wbits; ++j)
      for (int i = 0; i < abits; ++i) {
        int64_t t = 0;
        for (int64_t k = 0; k < kwords; ++k) t += __builtin_popcountll(rows[i * kwords + k] & wplanes[(j * kwords + k) * opad + o]);
        sum += t << (i + j);
      }
    acc[o] = sum;
  }
  Finish(acc, sumq, e, s.o, pos, pix, y);
}
#endif

// ---- bit-serial, 3×3 with at most 64 output channels -----------------------------------------

using RowFn = void (*)(const uint8_t*, int, const uint64_t*, int, const ConvShape&, const Epilogue&, int64_t, int64_t, float*);

#ifdef GDNSQ_AVX512_POPCNT
// One output row of a 3×3 convolution with GW words per kernel row and all output channels in
// NV vectors, PX pixels at a time so that each weight load serves PX pixels. The common ResNet
// shapes (C = 16, 32, 64) take this path, its loops unrolled at compile time.
template <int GW, int NV, int PX>
void BitserialRow3x3(const uint8_t* planes, int abits, const uint64_t* wplanes, int wbits, const ConvShape& s, const Epilogue& e,
                     int64_t n, int64_t oy, float* out) {
  constexpr int KW = 3 * GW, OPAD = 8 * NV;
  const int64_t cbytes = ChunkBits(s.c) / 8, rb = s.BitRowBytes(), pb = s.PlaneBytes(), step = s.sw * cbytes;
  const int tail = static_cast<int>((3 * ChunkBits(s.c)) & 63);
  const uint64_t last = tail ? (uint64_t(1) << tail) - 1 : ~uint64_t(0);
  const uint8_t* base = planes + (n * s.PaddedH() + oy * s.sh) * rb;
  alignas(64) float scratch[PX][OPAD];
  uint64_t a[PX][4][KW];
  int64_t ox = 0;
  auto pixels = [&](auto px_const) {
    constexpr int P = decltype(px_const)::value;
    int64_t sumq[P] = {};
    for (int p = 0; p < P; ++p)
      for (int i = 0; i < abits; ++i)
        for (int ky = 0; ky < 3; ++ky) {
          const uint8_t* src = base + i * pb + ky * rb + (ox + p) * step;
          for (int q = 0; q < GW; ++q) a[p][i][ky * GW + q] = Load64(src + 8 * q);
          a[p][i][ky * GW + GW - 1] &= last;
          for (int q = 0; q < GW; ++q) sumq[p] += static_cast<int64_t>(__builtin_popcountll(a[p][i][ky * GW + q])) << i;
        }
    __m512i total[P][NV];
    for (int p = 0; p < P; ++p)
      for (int v = 0; v < NV; ++v) total[p][v] = _mm512_setzero_si512();
    for (int j = 0; j < wbits; ++j)
      for (int i = 0; i < abits; ++i) {
        const uint64_t* wj = wplanes + j * KW * OPAD;
        __m512i t[P][NV];
        for (int p = 0; p < P; ++p)
          for (int v = 0; v < NV; ++v) t[p][v] = _mm512_setzero_si512();
        for (int k = 0; k < KW; ++k) {
          __m512i av[P];
          for (int p = 0; p < P; ++p) av[p] = _mm512_set1_epi64(static_cast<long long>(a[p][i][k]));
          for (int v = 0; v < NV; ++v) {
            const __m512i w = _mm512_loadu_si512(wj + k * OPAD + 8 * v);
            for (int p = 0; p < P; ++p) t[p][v] = _mm512_add_epi64(t[p][v], _mm512_popcnt_epi64(_mm512_and_si512(av[p], w)));
          }
        }
        const __m512i sh = _mm512_set1_epi64(i + j);
        for (int p = 0; p < P; ++p)
          for (int v = 0; v < NV; ++v) total[p][v] = _mm512_add_epi64(total[p][v], _mm512_sllv_epi64(t[p][v], sh));
      }
    for (int p = 0; p < P; ++p) {
      const int64_t pos = oy * s.wo + ox + p, pix = (n * s.ho + oy) * s.wo + ox + p;
      float* y = OutRow(out, pix, s.o, scratch[p]);
      StoreBlock<NV>(total[p], static_cast<float>(sumq[p]), e, s.o, 0, e.bias_map ? e.bias_map + pos * s.o : nullptr,
                     e.residual ? e.residual + pix * s.o : nullptr, y);
      EmitNext(e, n, oy, ox + p, y);
    }
  };
  for (; ox + PX <= s.wo; ox += PX) pixels(std::integral_constant<int, PX>{});
  for (; ox < s.wo; ++ox) pixels(std::integral_constant<int, 1>{});
}

// The specialised row kernel for s, or null (the generic per-pixel path).
RowFn SpecialisedRow(const ConvShape& s, int abits) {
  if (s.kh != 3 || s.kw != 3 || abits > 4) return nullptr;
  const int64_t gw = s.GroupWords(), nv = PadTo(s.o, 8) / 8;
  if (gw < 1 || gw > 3 || nv > 8) return nullptr;
#define GDNSQ_ROWS(GW)                                                                                             \
  {BitserialRow3x3<GW, 1, 4>, BitserialRow3x3<GW, 2, 2>, BitserialRow3x3<GW, 3, 2>, BitserialRow3x3<GW, 4, 2>, \
   BitserialRow3x3<GW, 5, 1>, BitserialRow3x3<GW, 6, 1>, BitserialRow3x3<GW, 7, 1>, BitserialRow3x3<GW, 8, 1>}
  static const RowFn table[3][8] = {GDNSQ_ROWS(1), GDNSQ_ROWS(2), GDNSQ_ROWS(3)};
#undef GDNSQ_ROWS
  return table[gw - 1][nv - 1];
}
#else
RowFn SpecialisedRow(const ConvShape&, int) { return nullptr; }
#endif

// ---- int8 -----------------------------------------------------------------------------------

inline void BuildByteRow(const uint8_t* codes, const ConvShape& s, int64_t n, int64_t oy, int64_t ox, uint8_t* row) {
  const int64_t tb = TapBytes(s.c), rb = s.ByteRowBytes(), len = s.kw * tb;
  const uint8_t* img = codes + (n * s.PaddedH() + oy * s.sh) * rb + ox * s.sw * tb;
  for (int64_t ky = 0; ky < s.kh; ++ky) std::memcpy(row + ky * len, img + ky * rb, len);
}

#ifdef GDNSQ_AVX512_VNNI
template <int NV>
void DotBlock(const uint8_t* row, int64_t groups, const int8_t* wb, int64_t opad, int64_t ob, int64_t* acc) {
  __m512i t[NV];
  for (int v = 0; v < NV; ++v) t[v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    int32_t four;
    std::memcpy(&four, row + 4 * g, 4);
    const __m512i a = _mm512_set1_epi32(four);
    const int8_t* w = wb + (g * opad + ob) * 4;
    for (int v = 0; v < NV; ++v) t[v] = _mm512_dpbusd_epi32(t[v], a, _mm512_loadu_si512(w + 64 * v));
  }
  for (int v = 0; v < NV; ++v) {
    _mm512_storeu_si512(acc + 16 * v, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(t[v])));
    _mm512_storeu_si512(acc + 16 * v + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(t[v], 1)));
  }
}

void DotAll(const uint8_t* row, int64_t groups, const int8_t* wb, int64_t opad, int64_t* acc) {
  for (int64_t ob = 0; ob < opad; ob += 64) {
    switch (std::min<int64_t>(4, (opad - ob) / 16)) {
      case 1: DotBlock<1>(row, groups, wb, opad, ob, acc + ob); break;
      case 2: DotBlock<2>(row, groups, wb, opad, ob, acc + ob); break;
      case 3: DotBlock<3>(row, groups, wb, opad, ob, acc + ob); break;
      default: DotBlock<4>(row, groups, wb, opad, ob, acc + ob); break;
    }
  }
}

int64_t ByteSum(const uint8_t* row, int64_t bytes) {  // bytes: a multiple of 64 (zero tail)
  __m512i s = _mm512_setzero_si512();
  for (int64_t b = 0; b < bytes; b += 64) s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_loadu_si512(row + b), _mm512_setzero_si512()));
  alignas(64) int64_t lanes[8];
  _mm512_store_si512(lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#else
void DotAll(const uint8_t* row, int64_t groups, const int8_t* wb, int64_t opad, int64_t* acc) {
  for (int64_t o = 0; o < opad; ++o) {
    int64_t sum = 0;
    for (int64_t g = 0; g < groups; ++g)
      for (int r = 0; r < 4; ++r) sum += static_cast<int64_t>(row[4 * g + r]) * wb[(g * opad + o) * 4 + r];
    acc[o] = sum;
  }
}

int64_t ByteSum(const uint8_t* row, int64_t bytes) {
  int64_t s = 0;
  for (int64_t b = 0; b < bytes; ++b) s += row[b];
  return s;
}
#endif

// ---- depthwise ------------------------------------------------------------------------------

// One output pixel of a depthwise convolution: win points at its window's top-left padded
// pixel (rows rb bytes apart, pixels tb bytes apart), w at the packed [Taps][cpad] codes.
inline void DepthwisePixel(const uint8_t* win, int64_t rb, int64_t tb, const int32_t* w, const ConvShape& s, int64_t cpad,
                           const Epilogue& e, const float* bm, const float* res, float* y) {
#ifdef GDNSQ_AVX512_BW
  for (int64_t c0 = 0; c0 < s.c; c0 += 16) {
    const __mmask16 m = s.c - c0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (s.c - c0)) - 1);
    __m512i acc = _mm512_setzero_si512(), sq = _mm512_setzero_si512();
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const __m512i a = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, win + ky * rb + kx * tb + c0));
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(a, _mm512_loadu_si512(w + (ky * s.kw + kx) * cpad + c0)));
        sq = _mm512_add_epi32(sq, a);
      }
    __m512 r = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, e.alpha + c0), _mm512_cvtepi32_ps(acc));
    r = _mm512_add_ps(r, _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, e.beta + c0), _mm512_cvtepi32_ps(sq)), _mm512_maskz_loadu_ps(m, e.gamma + c0)));
    if (bm) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bm + c0));
    if (res) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, res + c0));
    if (e.relu) r = _mm512_max_ps(r, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + c0, m, r);
  }
#else
  for (int64_t c = 0; c < s.c; ++c) {
    int32_t acc = 0, sq = 0;
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int32_t a = win[ky * rb + kx * tb + c];
        acc += a * w[(ky * s.kw + kx) * cpad + c];
        sq += a;
      }
    float v = e.alpha[c] * static_cast<float>(acc) + (e.beta[c] * static_cast<float>(sq) + e.gamma[c]);
    if (bm) v += bm[c];
    if (res) v += res[c];
    y[c] = e.relu && v < 0.0f ? 0.0f : v;
  }
#endif
}

// Floats ordered as integers (for a bisection over representable values).
inline int32_t Key(float x) { int32_t i; std::memcpy(&i, &x, 4); return i >= 0 ? i : INT32_MIN - i; }
inline float FromKey(int32_t k) { int32_t i = k >= 0 ? k : INT32_MIN - k; float x; std::memcpy(&x, &i, 4); return x; }

}  // namespace

ActGrid WithThresholds(ActGrid g) {
  g.nthr = 0;
  const int32_t top = Code(g.hi, g);
  if (top < 1 || top > 15) return g;
  for (int k = 1; k <= top; ++k) {
    // 64-bit keys: for lo ≲ −2 and hi ≳ 2 (a learned lower bound of a signed input) b − a
    // exceeds INT32_MAX, and the 32-bit bisection overflowed into wrong thresholds.
    int64_t a = Key(g.lo), b = Key(g.hi);  // Code(lo) = 0 < k ≤ Code(hi)
    while (b - a > 1) {
      const int64_t mid = a + (b - a) / 2;
      if (Code(FromKey(static_cast<int32_t>(mid)), g) >= k) b = mid; else a = mid;
    }
    g.thr[k - 1] = FromKey(static_cast<int32_t>(b));
  }
  g.nthr = top;
  return g;
}

// ---- activation codes --------------------------------------------------------------------------

void QuantizePlanes(const float* x, const ConvShape& s, ActGrid g, int bits, uint8_t* planes) {
  std::memset(planes, 0, bits * s.PlaneBytes());
  at::parallel_for(0, s.n * s.h, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t x0 = 0; x0 < s.w; ++x0) WritePixelCodes(x + (r * s.w + x0) * s.c, s, g, bits, false, r / s.h, r % s.h, x0, planes);
  });
}

void QuantizeBytes(const float* x, const ConvShape& s, ActGrid g, uint8_t* codes) {
  std::memset(codes, 0, s.n * s.PaddedH() * s.ByteRowBytes());
  at::parallel_for(0, s.n * s.h, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t x0 = 0; x0 < s.w; ++x0) WritePixelCodes(x + (r * s.w + x0) * s.c, s, g, 8, true, r / s.h, r % s.h, x0, codes);
  });
}

// ---- weights ---------------------------------------------------------------------------------

void PackWeightPlanes(const uint8_t* codes, const ConvShape& s, int bits, uint64_t* out) {
  const int64_t cw = ChunkBits(s.c), gw = s.GroupWords(), kwords = s.KWords(), opad = PadTo(s.o, 8);
  std::memset(out, 0, sizeof(uint64_t) * bits * kwords * opad);
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t ch = 0; ch < s.c; ++ch)
      for (int64_t ky = 0; ky < s.kh; ++ky)
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          const int q = codes[((o * s.c + ch) * s.kh + ky) * s.kw + kx];
          const int64_t bit = ky * gw * 64 + kx * cw + ch;
          for (int j = 0; j < bits; ++j)
            if ((q >> j) & 1) out[(j * kwords + (bit >> 6)) * opad + o] |= uint64_t(1) << (bit & 63);
        }
}

void PackWeightBytes(const uint8_t* codes, const ConvShape& s, int8_t* out) {
  const int64_t tb = TapBytes(s.c), opad = PadTo(s.o, 16), groups = s.KBytesPadded() / 4;
  std::memset(out, 0, groups * opad * 4);
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t ch = 0; ch < s.c; ++ch)
      for (int64_t t = 0; t < s.Taps(); ++t) {
        const int64_t k = t * tb + ch;
        out[((k / 4) * opad + o) * 4 + k % 4] = static_cast<int8_t>(codes[(o * s.c + ch) * s.Taps() + t]);
      }
}

void PackWeightsDepthwise(const uint8_t* codes, const ConvShape& s, int32_t* out) {
  const int64_t cpad = PadTo(s.o, 16);
  std::memset(out, 0, sizeof(int32_t) * s.Taps() * cpad);
  for (int64_t c = 0; c < s.o; ++c)
    for (int64_t t = 0; t < s.Taps(); ++t) out[t * cpad + c] = codes[c * s.Taps() + t];
}

// ---- convolutions ------------------------------------------------------------------------------

void BitserialConv(const uint8_t* planes, int abits, const uint64_t* wplanes, int wbits, const ConvShape& s,
                   const Epilogue& e, float* out) {
  const int64_t kwords = s.KWords();
  if (RowFn row = SpecialisedRow(s, abits)) {
    ForOutputRows(s, [&](int64_t n, int64_t oy) { row(planes, abits, wplanes, wbits, s, e, n, oy, out); });
    return;
  }
  ForOutputRows(s, [&](int64_t n, int64_t oy) {
    std::vector<uint64_t> rows(abits * kwords);
    std::vector<float> scratch(out ? 0 : PadTo(s.o, 8));
    for (int64_t ox = 0; ox < s.wo; ++ox) {
      BuildBitRow(planes, abits, s, n, oy, ox, rows.data());
      int64_t sumq = 0;
      for (int i = 0; i < abits; ++i)
        for (int64_t k = 0; k < kwords; ++k) sumq += static_cast<int64_t>(__builtin_popcountll(rows[i * kwords + k])) << i;
      const int64_t pix = (n * s.ho + oy) * s.wo + ox;
      float* y = OutRow(out, pix, s.o, scratch.data());
      PopcountPixel(rows.data(), abits, wplanes, wbits, s, sumq, e, oy * s.wo + ox, pix, y);
      EmitNext(e, n, oy, ox, y);
    }
  });
}

void Int8Conv(const uint8_t* codes, const int8_t* wbytes, const ConvShape& s, const Epilogue& e, float* out) {
  const int64_t opad = PadTo(s.o, 16), groups = s.KBytes() / 4, rowbytes = s.KBytesPadded();
  ForOutputRows(s, [&](int64_t n, int64_t oy) {
    std::vector<uint8_t> row(rowbytes, 0);
    std::vector<int64_t> acc(opad);
    std::vector<float> scratch(out ? 0 : opad);
    for (int64_t ox = 0; ox < s.wo; ++ox) {
      BuildByteRow(codes, s, n, oy, ox, row.data());
      const int64_t sumq = ByteSum(row.data(), rowbytes);
      DotAll(row.data(), groups, wbytes, opad, acc.data());
      const int64_t pix = (n * s.ho + oy) * s.wo + ox;
      float* y = OutRow(out, pix, s.o, scratch.data());
      Finish(acc.data(), sumq, e, s.o, oy * s.wo + ox, pix, y);
      EmitNext(e, n, oy, ox, y);
    }
  });
}

void DepthwiseConv(const uint8_t* codes, const int32_t* wcodes, const ConvShape& s, const Epilogue& e, float* out) {
  const int64_t cpad = PadTo(s.c, 16), tb = TapBytes(s.c), rb = s.ByteRowBytes();
  ForOutputRows(s, [&](int64_t n, int64_t oy) {
    std::vector<float> scratch(out ? 0 : cpad);
    const uint8_t* img = codes + (n * s.PaddedH() + oy * s.sh) * rb;
    for (int64_t ox = 0; ox < s.wo; ++ox) {
      const int64_t pos = oy * s.wo + ox, pix = (n * s.ho + oy) * s.wo + ox;
      float* y = OutRow(out, pix, s.o, scratch.data());
      DepthwisePixel(img + ox * s.sw * tb, rb, tb, wcodes, s, cpad, e, e.bias_map ? e.bias_map + pos * s.o : nullptr,
                     e.residual ? e.residual + pix * s.o : nullptr, y);
      EmitNext(e, n, oy, ox, y);
    }
  });
}

}  // namespace gdnsq::lowbit
