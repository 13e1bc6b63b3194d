// Bindings of the low-bit inference kernels (lowbit_kernels.cc) for the packed runtime. Tensors
// are the containers: activations are float32 NCHW tensors in channels_last memory (NHWC
// bytes), codes and packed weights are int64 (bit planes) or uint8/int8 (bytes) tensors whose
// layouts lowbit_kernels.h describes. Every shape is checked here, so a wrong call is a one-line
// JS error, never an out-of-bounds read.
#include "common.h"
#include "lowbit_kernels.h"

namespace gdnsq {

namespace {

namespace lb = lowbit;

at::Tensor ChannelsLast(const at::Tensor& x, const char* op) {
  if (x.dim() != 4 || x.scalar_type() != at::kFloat || !x.device().is_cpu())
    throw std::invalid_argument(std::string("expected a float32 CPU tensor [N, C, H, W], got ") + DTypeName(x.scalar_type()) + " of " + std::to_string(x.dim()) + " dims");
  (void)op;
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

lb::ActGrid Grid(double lo, double hi, double s) {
  if (!(s > 0) || !(hi >= lo)) throw std::invalid_argument("bad activation grid (need s > 0 and hi >= lo)");
  lb::ActGrid g;
  g.lo = static_cast<float>(lo), g.hi = static_cast<float>(hi), g.s = static_cast<float>(s);
  return lb::WithThresholds(g);
}

void CheckBits(int64_t bits, int64_t max) {
  if (bits < 1 || bits > max) throw std::invalid_argument("bits must be in 1.." + std::to_string(max) + ", got " + std::to_string(bits));
}

lb::ConvShape Shape(const std::vector<int64_t>& in, int64_t o, const std::vector<int64_t>& k, const std::vector<int64_t>& st,
                    const std::vector<int64_t>& pad) {
  if (in.size() != 4 || k.size() != 2 || st.size() != 2 || pad.size() != 2) throw std::invalid_argument("input shape needs 4 sizes, kernel/stride/padding 2");
  lb::ConvShape s{in[0], in[2], in[3], in[1], o, k[0], k[1], st[0], st[1], pad[0], pad[1], 0, 0};
  if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1 || s.o < 1 || s.kh < 1 || s.kw < 1 || s.sh < 1 || s.sw < 1 || s.ph < 0 || s.pw < 0)
    throw std::invalid_argument("bad convolution shape");
  s.ho = (s.h + 2 * s.ph - s.kh) / s.sh + 1;
  s.wo = (s.w + 2 * s.pw - s.kw) / s.sw + 1;
  if (s.h + 2 * s.ph < s.kh || s.w + 2 * s.pw < s.kw) throw std::invalid_argument("the kernel is larger than the padded input");
  return s;
}

// The input's shape with the padding of the convolution that will read its codes.
lb::ConvShape InputShape(const at::Tensor& x, const std::vector<int64_t>& pad) {
  if (pad.size() != 2 || pad[0] < 0 || pad[1] < 0) throw std::invalid_argument("padding must be 2 non-negative sizes");
  if (x.size(1) > 512) throw std::invalid_argument("at most 512 input channels, got " + std::to_string(x.size(1)));
  return Shape({x.size(0), x.size(1), x.size(2), x.size(3)}, 1, {1, 1}, {1, 1}, pad);
}

const float* Vec(const at::Tensor& t, int64_t n, const char* what) {
  if (t.scalar_type() != at::kFloat || t.numel() != n || !t.is_contiguous() || !t.device().is_cpu())
    throw std::invalid_argument(std::string(what) + " must be a contiguous float32 CPU tensor of " + std::to_string(n) + " elements");
  return t.data_ptr<float>();
}

void Expect(const at::Tensor& t, at::ScalarType dt, int64_t numel, const char* what) {
  if (t.scalar_type() != dt || t.numel() != numel || !t.is_contiguous() || !t.device().is_cpu())
    throw std::invalid_argument(std::string(what) + " must be a contiguous " + DTypeName(dt) + " CPU tensor of " + std::to_string(numel) +
                                " elements, got " + DTypeName(t.scalar_type()) + " of " + std::to_string(t.numel()));
}

}  // namespace

void RegisterLowbit(Exports exports) {
  GDNSQ_FN(exports, "lowbitFeatures", {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("avx512Popcnt", lb::HasAvx512Popcnt());
    o.Set("avx512Vnni", lb::HasAvx512Vnni());
    return o;
  });
  // channelsLast(x): x as NCHW with NHWC memory (a copy unless it already is).
  GDNSQ_FN(exports, "channelsLast", { RET(ChannelsLast(A_T(0), OP)); });
  GDNSQ_FN(exports, "isChannelsLast", {
    return Napi::Boolean::New(info.Env(), A_T(0).dim() == 4 && A_T(0).is_contiguous(at::MemoryFormat::ChannelsLast));
  });
  // lowbitQuantizePlanes(x, lo, hi, s, bits, [ph, pw]) → uint8 [bits, PlaneBytes]: padded bit planes
  GDNSQ_FN(exports, "lowbitQuantizePlanes", {
    at::Tensor x = ChannelsLast(A_T(0), OP);
    const lb::ActGrid g = Grid(A_NUM(1), A_NUM(2), A_NUM(3));
    const int64_t bits = A_INT(4);
    CheckBits(bits, 8);
    const lb::ConvShape s = InputShape(x, A_INTS(5));
    at::Tensor planes = at::empty({bits, s.PlaneBytes()}, at::kByte);
    lb::QuantizePlanes(x.data_ptr<float>(), s, g, static_cast<int>(bits), planes.data_ptr<uint8_t>());
    RET(planes);
  });
  // lowbitQuantizeBytes(x, lo, hi, s, [ph, pw]) → uint8 [N·(H + 2ph)·ByteRowBytes]: padded code bytes
  GDNSQ_FN(exports, "lowbitQuantizeBytes", {
    at::Tensor x = ChannelsLast(A_T(0), OP);
    const lb::ActGrid g = Grid(A_NUM(1), A_NUM(2), A_NUM(3));
    if (g.hi - g.lo > 255.5f * g.s) throw std::invalid_argument("codes over 255 do not fit the int8 path");
    const lb::ConvShape s = InputShape(x, A_INTS(4));
    at::Tensor codes = at::empty({s.n * s.PaddedH() * s.ByteRowBytes()}, at::kByte);
    lb::QuantizeBytes(x.data_ptr<float>(), s, g, codes.data_ptr<uint8_t>());
    RET(codes);
  });
  // lowbitPackWeights(codes uint8 [O, C, KH, KW], bits, mode 'bitserial'|'int8'|'depthwise') → packed weights
  GDNSQ_FN(exports, "lowbitPackWeights", {
    at::Tensor codes = A_T(0).contiguous();
    const int64_t bits = A_INT(1);
    const std::string mode = A_STR(2);
    if (codes.dim() != 4 || codes.scalar_type() != at::kByte) throw std::invalid_argument("codes must be uint8 [O, C, KH, KW]");
    const lb::ConvShape s = Shape({1, codes.size(1), codes.size(2), codes.size(3)}, codes.size(0), {codes.size(2), codes.size(3)}, {1, 1}, {0, 0});
    if (codes.numel() && codes.max().item<int64_t>() >= (int64_t(1) << bits)) throw std::invalid_argument("a weight code does not fit in " + std::to_string(bits) + " bits");
    if (mode == "bitserial") {
      CheckBits(bits, 8);
      at::Tensor out = at::empty({bits, s.KWords(), lb::PadTo(s.o, 8)}, at::kLong);
      lb::PackWeightPlanes(codes.data_ptr<uint8_t>(), s, static_cast<int>(bits), reinterpret_cast<uint64_t*>(out.data_ptr<int64_t>()));
      RET(out);
    }
    if (mode == "int8") {
      CheckBits(bits, 7);
      at::Tensor out = at::empty({s.KBytesPadded() / 4, lb::PadTo(s.o, 16), 4}, at::kChar);
      lb::PackWeightBytes(codes.data_ptr<uint8_t>(), s, out.data_ptr<int8_t>());
      RET(out);
    }
    if (mode == "depthwise") {  // codes [C, 1, KH, KW]
      CheckBits(bits, 8);
      if (codes.size(1) != 1) throw std::invalid_argument("depthwise weight codes must be [C, 1, KH, KW]");
      at::Tensor out = at::empty({s.Taps(), lb::PadTo(s.o, 16)}, at::kInt);
      lb::PackWeightsDepthwise(codes.data_ptr<uint8_t>(), s, out.data_ptr<int32_t>());
      RET(out);
    }
    throw std::invalid_argument("unknown mode '" + mode + "' (bitserial, int8, depthwise)");
  });
  // lowbitConv2d(mode 'bitserial'|'int8'|'depthwise' (reads int8's byte codes), acts, abits, [N, C, H, W], weights, wbits, O, [kh, kw], [sh, sw], [ph, pw],
  //              alpha, beta, gamma, biasMap|null, residual|null, relu, next|null, keepFloat)
  //   → float32 [N, O, Ho, Wo] channels_last; with next = {mode, lo, hi, s, bits, padding}: the
  //   output's codes for the next convolution instead (keepFloat: [output, codes]).
  GDNSQ_FN(exports, "lowbitConv2d", {
    const std::string mode = A_STR(0);
    const at::Tensor& acts = A_T(1);
    const int64_t abits = A_INT(2);
    const lb::ConvShape s = Shape(A_INTS(3), A_INT(6), A_INTS(7), A_INTS(8), A_INTS(9));
    if (s.c > 512) throw std::invalid_argument("at most 512 input channels, got " + std::to_string(s.c));
    const at::Tensor& w = A_T(4);
    const int64_t wbits = A_INT(5);
    lb::Epilogue e{Vec(A_T(10), s.o, "alpha"), Vec(A_T(11), s.o, "beta"), Vec(A_T(12), s.o, "gamma"), nullptr, nullptr, A_BOOL(15), nullptr};
    lb::NextCodes next{};
    at::Tensor next_codes;
    const bool keep_float = info.Length() > 17 && A_BOOL(17);
    if (info.Length() > 16 && info[16].IsObject()) {
      Napi::Object o = info[16].As<Napi::Object>();
      const std::string nmode = o.Get("mode").As<Napi::String>().Utf8Value();
      if (nmode != "bitserial" && nmode != "int8") throw std::invalid_argument("next.mode must be bitserial or int8");
      next.g = Grid(o.Get("lo").As<Napi::Number>().DoubleValue(), o.Get("hi").As<Napi::Number>().DoubleValue(), o.Get("s").As<Napi::Number>().DoubleValue());
      next.bits = static_cast<int>(o.Get("bits").As<Napi::Number>().Int64Value());
      next.bytes = nmode == "int8";
      CheckBits(next.bits, 8);
      if (next.bytes && next.g.hi - next.g.lo > 255.5f * next.g.s) throw std::invalid_argument("codes over 255 do not fit the int8 path");
      const std::vector<int64_t> pad = IntList(o.Get("padding"), OP, 16);
      if (pad.size() != 2 || pad[0] < 0 || pad[1] < 0) throw std::invalid_argument("next.padding must be 2 non-negative sizes");
      next.shape = lb::ConvShape{s.n, s.ho, s.wo, s.o, 1, 1, 1, 1, 1, pad[0], pad[1], 0, 0};
      next_codes = next.bytes ? at::zeros({s.n * next.shape.PaddedH() * next.shape.ByteRowBytes()}, at::kByte)
                              : at::zeros({next.bits, next.shape.PlaneBytes()}, at::kByte);
      next.dst = next_codes.data_ptr<uint8_t>();
      e.next = &next;
    }
    c10::optional<at::Tensor> bias_map = A_TOPT(13), residual = A_TOPT(14);
    if (bias_map) e.bias_map = Vec(*bias_map, s.ho * s.wo * s.o, "biasMap");
    at::Tensor res;
    if (residual) {
      res = *residual;
      if (res.dim() != 4 || res.size(0) != s.n || res.size(1) != s.o || res.size(2) != s.ho || res.size(3) != s.wo || res.scalar_type() != at::kFloat)
        throw std::invalid_argument("residual must be float32 [" + std::to_string(s.n) + ", " + std::to_string(s.o) + ", " + std::to_string(s.ho) + ", " + std::to_string(s.wo) + "]");
      res = res.contiguous(at::MemoryFormat::ChannelsLast);
      e.residual = res.data_ptr<float>();
    }
    at::Tensor out;
    if (!e.next || keep_float) out = at::empty({s.n, s.o, s.ho, s.wo}, at::TensorOptions().dtype(at::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
    float* out_ptr = out.defined() ? out.data_ptr<float>() : nullptr;
    if (mode == "bitserial") {
      CheckBits(abits, 8);
      CheckBits(wbits, 8);
      Expect(acts, at::kByte, abits * s.PlaneBytes(), "activation planes");
      Expect(w, at::kLong, wbits * s.KWords() * lb::PadTo(s.o, 8), "weight planes");
      lb::BitserialConv(acts.data_ptr<uint8_t>(), static_cast<int>(abits),
                        reinterpret_cast<const uint64_t*>(w.data_ptr<int64_t>()), static_cast<int>(wbits), s, e, out_ptr);
    } else if (mode == "int8") {
      Expect(acts, at::kByte, s.n * s.PaddedH() * s.ByteRowBytes(), "activation codes");
      Expect(w, at::kChar, s.KBytesPadded() * lb::PadTo(s.o, 16), "weight bytes");
      lb::Int8Conv(acts.data_ptr<uint8_t>(), w.data_ptr<int8_t>(), s, e, out_ptr);
    } else if (mode == "depthwise") {
      if (s.o != s.c) throw std::invalid_argument("a depthwise convolution has as many outputs as input channels, got " + std::to_string(s.o) + " for " + std::to_string(s.c));
      Expect(acts, at::kByte, s.n * s.PaddedH() * s.ByteRowBytes(), "activation codes");
      Expect(w, at::kInt, s.Taps() * lb::PadTo(s.o, 16), "depthwise weight codes");
      lb::DepthwiseConv(acts.data_ptr<uint8_t>(), w.data_ptr<int32_t>(), s, e, out_ptr);
    } else {
      throw std::invalid_argument("unknown mode '" + mode + "' (bitserial, int8, depthwise)");
    }
    if (!e.next) RET(out);
    if (!keep_float) RET(next_codes);
    Napi::Array both = Napi::Array::New(info.Env(), 2);
    both.Set(0u, Wrap(info.Env(), out));
    both.Set(1u, Wrap(info.Env(), next_codes));
    return both;
  });
}

}  // namespace gdnsq
