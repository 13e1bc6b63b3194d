// Low-bit convolution kernels on integer codes (the packed runtime, src/runtime/).
// With x̂ = s_a·q_a + b_a and ŵ = s_w·q_w + lo per output channel, a convolution is
//   Σ x̂·ŵ = s_a·s_w·Σ q_a·q_w + s_a·lo·Σ q_a + b_a·Σ_valid ŵ,
// where the integer part Σ q_a·q_w is accumulated exactly. Zero padding is x̂ = 0, i.e. code 0
// and no b_a term at padded taps: the last sum runs over the valid taps only, which the caller
// passes as a per-position bias map (absent when b_a = 0, the usual post-ReLU case).
// Activations are NHWC float (channels_last). The kernels' input is the codes of the input laid
// out with the convolution's zero padding: row y of image n, plane i, is a byte stream of the
// (W + 2·pw) padded pixels' chunks, one chunk of `ChunkBits(C)` bits per pixel (8, 16, 32 or a
// multiple of 64: bit c = bit i of channel c's code), padding pixels and rows all zero. Since
// a chunk is whole bytes, the kw taps of one kernel row are kw consecutive chunks: the im2col row
// of an output pixel is kh byte-aligned copies, one per kernel row, each into its own group of
// whole 64-bit words (tap kx, channel c at bit kx·chunk + c of its group). The weights are
// packed in the same order, so Σ q_a·q_w = Σ_ij 2^(i+j)·popcount(A_i & W_j) (bit-serial). The
// int8 path does the same with one byte per channel code (channels padded to a multiple of 4)
// and u8·s8 dot products (AVX-512 VNNI). A depthwise convolution (one filter per channel) reads
// the same byte layout directly, without im2col: per channel, 16 channels a vector, exact int32
// sums Σ q_a·q_w and Σ q_a over its own window (beta then multiplies each channel's own sum).
// A Linear layer is the 1×1 convolution of an image of one pixel per input row.
#pragma once
#include <cstdint>

namespace gdnsq::lowbit {

/** Bits of one pixel's chunk for C channels. */
inline int64_t ChunkBits(int64_t c) { return c <= 8 ? 8 : c <= 16 ? 16 : c <= 32 ? 32 : 64 * ((c + 63) / 64); }
/** Output channels padded to whole 8-lane vectors (bit-serial) or 16-lane vectors (int8). */
inline int64_t PadTo(int64_t o, int64_t lanes) { return (o + lanes - 1) / lanes * lanes; }
/** Bytes of one pixel's codes in the int8 layout: channels padded to a multiple of 4. */
inline int64_t TapBytes(int64_t c) { return (c + 3) / 4 * 4; }

struct ActGrid {
  float lo, hi, s;
  // With at most 15 levels above 0: thr[k−1] = the smallest float whose code is ≥ k, so that
  // code(x) = #{k : x ≥ thr[k−1]} exactly (the code is monotone in x). Compares instead of a
  // division per value; WithThresholds fills them, nthr = 0 means divide.
  int nthr = 0;
  float thr[15] = {};
};

/** g with its thresholds, when its largest code is at most 15. */
ActGrid WithThresholds(ActGrid g);

struct ConvShape {
  int64_t n, h, w, c;      // input NHWC
  int64_t o, kh, kw;       // output channels, kernel
  int64_t sh, sw, ph, pw;  // stride, padding
  int64_t ho, wo;          // output size
  int64_t Taps() const { return kh * kw; }
  int64_t PaddedH() const { return h + 2 * ph; }
  int64_t PaddedW() const { return w + 2 * pw; }
  // Bit-serial layout: bytes of one padded input row of one plane (8 bytes of slack, so a
  // kernel row is read with whole-word loads), words of one kernel row's group, of a row.
  int64_t BitRowBytes() const { return (PaddedW() * ChunkBits(c) / 8 + 7) / 8 * 8 + 8; }
  int64_t GroupWords() const { return (kw * ChunkBits(c) + 63) / 64; }
  int64_t KWords() const { return kh * GroupWords(); }
  int64_t PlaneBytes() const { return n * PaddedH() * BitRowBytes(); }
  // int8 layout: bytes of one padded input row, of an im2col row (a multiple of 64).
  int64_t ByteRowBytes() const { return PaddedW() * TapBytes(c) + 64; }
  int64_t KBytes() const { return Taps() * TapBytes(c); }
  int64_t KBytesPadded() const { return (KBytes() + 63) / 64 * 64; }
};

/** Where a convolution writes the codes of its output for the next convolution (fused quantizer). */
struct NextCodes {
  uint8_t* dst;     // that convolution's input codes, zeroed by the caller (its padding)
  ActGrid g;        // its activation grid
  int bits;         // its code width (bit planes)
  bool bytes;       // int8 byte layout, else bit planes
  ConvShape shape;  // its input: n, h = ho, w = wo, c = o and its padding
};

struct Epilogue {
  const float* alpha;     // [O] multiplies Σ q_a·q_w
  const float* beta;      // [O] multiplies Σ q_a over the window
  const float* gamma;     // [O] constant
  const float* bias_map;  // [Ho·Wo][O] or null: position-dependent constant (b_a·Σ_valid ŵ)
  const float* residual;  // NHWC [N·Ho·Wo][O] or null: added before the ReLU
  bool relu;
  const NextCodes* next;  // or null
};

/** Codes of NHWC x [N·H·W][C] as `bits` padded bit-plane images (PlaneBytes() each). */
void QuantizePlanes(const float* x, const ConvShape& s, ActGrid g, int bits, uint8_t* planes);
/** Codes of NHWC x as one padded byte image [N][PaddedH][ByteRowBytes]. */
void QuantizeBytes(const float* x, const ConvShape& s, ActGrid g, uint8_t* codes);

/** Weight codes [O][C][KH][KW] → bit planes [bits][KWords][PadTo(O, 8)]. */
void PackWeightPlanes(const uint8_t* codes, const ConvShape& s, int bits, uint64_t* out);
/** Weight codes [O][C][KH][KW] (≤ 127) → int8 blocks [KBytesPadded/4][PadTo(O, 16)][4]. */
void PackWeightBytes(const uint8_t* codes, const ConvShape& s, int8_t* out);

/** Depthwise weight codes [C][1][KH][KW] → int32 [Taps][PadTo(C, 16)] (padding channels zero); s.o = C. */
void PackWeightsDepthwise(const uint8_t* codes, const ConvShape& s, int32_t* out);

/** Bit-serial convolution: out NHWC [N·Ho·Wo][O] (out may be null when e.next takes the codes). */
void BitserialConv(const uint8_t* planes, int abits, const uint64_t* wplanes, int wbits, const ConvShape& s,
                   const Epilogue& e, float* out);
/** int8 convolution (u8 activation codes × s8 weight codes, exact int32 sums): out NHWC. */
void Int8Conv(const uint8_t* codes, const int8_t* wbytes, const ConvShape& s, const Epilogue& e, float* out);

/** Depthwise convolution (s.o = s.c) on byte codes (QuantizeBytes layout): out NHWC. */
void DepthwiseConv(const uint8_t* codes, const int32_t* wcodes, const ConvShape& s, const Epilogue& e, float* out);

/** Whether the kernels were compiled with AVX-512 (VPOPCNTDQ for bit-serial, VNNI for int8). */
bool HasAvx512Popcnt();
bool HasAvx512Vnni();

}  // namespace gdnsq::lowbit
