// Fused GDNSQ quantizer (forward + backward as one libtorch autograd function), GDNSQ.md §2.
//   forward:  c = clamp(x, lo, hi);  v = (c − lo)/s;  x̂ = round(v)·s + lo;  s = 2^σ;  e = round(v) − v
//   backward: dx = 1[lo ≤ x ≤ hi]·g (ewgs/aewgs: ·max(1 − δ·sign(g)·e, 0.01) inside);
//             dlo = Σ g·1[x < lo];  dhi = Σ g·1[x > hi];  dσ = ds·s·ln 2 with
//             ds = Σ g·(e + s·ρ) (noise, ewgs, aewgs: the reference keeps the noise step gradient
//             for the EWGS variants) or Σ g·e (lsq, and every method in evaluation).
// Only x, lo, hi and σ are saved; v, e and the mask are recomputed in backward. Float32/64 CPU
// tensors go through the loops of quantizer_kernels.cc; other devices and dtypes through the
// same math as ATen ops (so a CUDA libtorch works), with the same random signs.
#include "common.h"
#include "quantizer_kernels.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <mutex>

namespace gdnsq {

namespace {

using quant::Method;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

constexpr double kRho = 0.28867513459481287;  // 1/(2√3): ±ρ has the variance of U(−½, ½), 1/12
constexpr double kLn2 = 0.69314718055994531;

Method ParseMethod(const std::string& m) {
  if (m == "noise") return Method::kNoise;
  if (m == "lsq") return Method::kLsq;
  if (m == "ewgs") return Method::kEwgs;
  if (m == "aewgs") return Method::kAewgs;
  throw std::invalid_argument("unknown method '" + m + "' (noise, lsq, ewgs, aewgs)");
}

// axis < 0 means per tensor (one channel).
quant::Layout LayoutOf(const at::Tensor& x, int64_t axis) {
  if (axis < 0) return {1, 1, x.numel()};
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.size(d);
  return {outer, x.size(axis), inner};
}

bool UseKernel(const at::Tensor& x, bool aten) {
  return !aten && x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
}

// One draw per backward call from the default CPU generator, so manualSeed reproduces the noise.
uint64_t DrawSeed() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

// ---- ATen path: the same formulas as tensor ops ----------------------------------------------

at::Tensor Bcast(const at::Tensor& p, const at::Tensor& x, int64_t axis) {
  if (axis < 0) return p.reshape({});
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[static_cast<size_t>(axis)] = p.numel();
  return p.reshape(shape);
}

std::vector<int64_t> ReduceDims(const at::Tensor& x, int64_t axis) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis) dims.push_back(d);
  return dims;
}

// Per-channel sum as a [C] tensor (C = 1 per tensor).
at::Tensor ChannelSum(const at::Tensor& t, int64_t axis) {
  if (axis < 0) return t.sum().reshape({1});
  std::vector<int64_t> dims = ReduceDims(t, axis);
  return dims.empty() ? t : t.sum(dims);  // sum over no dims would mean all of them
}

// ±1 with the kernels' SplitMix64 signs, made on the CPU and moved to x's device.
at::Tensor Signs(const at::Tensor& x, uint64_t seed) {
  at::Tensor r = at::empty({x.numel()}, at::TensorOptions().dtype(at::kFloat));
  float* p = r.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = ((quant::SignWord(seed, i >> 5) >> (i & 31)) & 1u) ? 1.f : -1.f;
  return r.view(x.sizes()).to(x.device(), x.scalar_type());
}

at::Tensor ForwardAten(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& s,
                       int64_t axis) {
  at::Tensor l = Bcast(lo, x, axis), h = Bcast(hi, x, axis), sb = Bcast(s, x, axis);
  return at::round((at::clamp(x, l, h) - l) / sb) * sb + l;
}

// Returns {dx, Σ g[x<lo], Σ g[x>hi], Σ g·e, Σ g·sign}, sums as [C] tensors.
tensor_list BackwardAten(const at::Tensor& x, const at::Tensor& g, const at::Tensor& lo, const at::Tensor& hi,
                         const at::Tensor& s, int64_t axis, Method method, double delta, bool noise, uint64_t seed) {
  at::Tensor l = Bcast(lo, x, axis), h = Bcast(hi, x, axis), sb = Bcast(s, x, axis);
  at::Tensor v = (at::clamp(x, l, h) - l) / sb;
  at::Tensor e = at::round(v) - v;
  at::Tensor inside = at::logical_and(x >= l, x <= h);
  at::Tensor zero = at::zeros({}, g.options());
  at::Tensor dx;
  if (method == Method::kEwgs || method == Method::kAewgs) {
    at::Tensor d = at::full({lo.numel()}, delta, lo.options().dtype(at::kDouble));
    if (method == Method::kAewgs) {
      // Same reading as quant::AdaptiveDelta: mean(sign(g)·e)/max(var(e), 1e-3) inside.
      at::Tensor in = inside.to(at::kDouble), ed = e.to(at::kDouble) * in;
      at::Tensor n = ChannelSum(in, axis);
      at::Tensor mean = ChannelSum(ed, axis) / n;
      at::Tensor var = ChannelSum(ed * ed, axis) / n - mean * mean;
      at::Tensor raw = ChannelSum(at::sign(g).to(at::kDouble) * ed, axis) / n / var.clamp_min(1e-3);
      d = at::where(n > 0, raw, at::zeros_like(raw));
    }
    at::Tensor db = Bcast(d.to(x.scalar_type()), x, axis);
    dx = at::where(inside, g * at::clamp_min(1 - db * at::sign(g) * e, 0.01), zero);
  } else {
    dx = at::where(inside, g, zero);
  }
  at::Tensor gsign = noise ? ChannelSum(g * Signs(x, seed), axis) : at::zeros_like(lo);
  return {dx, ChannelSum(at::where(x < l, g, zero), axis), ChannelSum(at::where(x > h, g, zero), axis),
          ChannelSum(g * e, axis), gsign};
}

// ---- the autograd function -----------------------------------------------------------------

template <typename T>
quant::Params<T> ParamsOf(const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& s) {
  return {lo.data_ptr<T>(), hi.data_ptr<T>(), s.data_ptr<T>()};
}

at::Tensor QuantForward(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& sigma,
                        int64_t axis, bool aten) {
  at::Tensor s = at::exp2(sigma);  // ATen's exp2 on both paths: the reference gets the same bits
  if (!UseKernel(x, aten)) return ForwardAten(x, lo, hi, s, axis);
  at::Tensor y = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fakeQuantize", [&] {
    quant::Forward<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), LayoutOf(x, axis),
                             ParamsOf<scalar_t>(lo, hi, s));
  });
  return y;
}

struct FakeQuantFunction : public torch::autograd::Function<FakeQuantFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                            const at::Tensor& sigma, int64_t axis, int64_t method, double delta, bool noise,
                            bool aten) {
    ctx->save_for_backward({x, lo, hi, sigma});
    ctx->saved_data["noise"] = noise;
    ctx->saved_data["axis"] = axis;
    ctx->saved_data["method"] = method;
    ctx->saved_data["delta"] = delta;
    ctx->saved_data["aten"] = aten;
    return QuantForward(x, lo, hi, sigma, axis, aten);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &lo = saved[1], &hi = saved[2], &sigma = saved[3];
    const int64_t axis = ctx->saved_data["axis"].toInt();
    const auto method = static_cast<Method>(ctx->saved_data["method"].toInt());
    const double delta = ctx->saved_data["delta"].toDouble();
    const bool aten = ctx->saved_data["aten"].toBool();
    const at::Tensor g = grads[0].contiguous();
    const at::Tensor s = at::exp2(sigma);
    const bool noise = ctx->saved_data["noise"].toBool();
    const uint64_t seed = noise ? DrawSeed() : 0;
    at::Tensor dx, dlo, dhi, dsigma;
    if (UseKernel(x, aten)) {
      dx = at::empty_like(x), dlo = at::empty_like(lo), dhi = at::empty_like(hi), dsigma = at::empty_like(sigma);
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fakeQuantize", [&] {
        quant::ChannelSums r = quant::Backward<scalar_t>(x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
                                                         dx.data_ptr<scalar_t>(), LayoutOf(x, axis),
                                                         ParamsOf<scalar_t>(lo, hi, s), method, delta, noise, seed);
        const scalar_t* sp = s.data_ptr<scalar_t>();
        scalar_t *pl = dlo.data_ptr<scalar_t>(), *ph = dhi.data_ptr<scalar_t>(), *ps = dsigma.data_ptr<scalar_t>();
        for (size_t c = 0; c < r.ge.size(); ++c) {
          const double sc = sp[c], ds = r.ge[c] + (noise ? sc * kRho * r.gsign[c] : 0.0);
          pl[c] = static_cast<scalar_t>(r.below[c]), ph[c] = static_cast<scalar_t>(r.above[c]);
          ps[c] = static_cast<scalar_t>(ds * sc * kLn2);
        }
      });
    } else {
      tensor_list r = BackwardAten(x, g, lo, hi, s, axis, method, delta, noise, seed);
      const at::Tensor sf = s.reshape({-1});
      at::Tensor ds = noise ? r[3] + sf * kRho * r[4] : r[3];
      dx = r[0], dlo = r[1].reshape(lo.sizes()), dhi = r[2].reshape(hi.sizes());
      dsigma = (ds * sf * kLn2).reshape(sigma.sizes());
    }
    return {dx, dlo, dhi, dsigma, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// ---- argument checks -----------------------------------------------------------------------

std::string ShapeStr(const at::Tensor& t) { return c10::str(t.sizes()); }

// Brings a parameter to x's dtype (differentiably) after checking what cannot be fixed.
at::Tensor CheckParam(const at::Tensor& p, const char* name, const at::Tensor& x, int64_t axis) {
  if (!at::isFloatingType(p.scalar_type()))
    throw std::invalid_argument(std::string(name) + " must be a floating-point tensor, got " + DTypeName(p.scalar_type()));
  if (p.device() != x.device())
    throw std::invalid_argument(std::string(name) + " is on " + p.device().str() + " but x is on " + x.device().str());
  if (axis < 0) {
    if (p.dim() > 1 || p.numel() != 1)
      throw std::invalid_argument(std::string(name) + " has shape " + ShapeStr(p) +
                                  " but per-tensor quantization (axis null) needs [] or [1]");
  } else if (p.dim() != 1 || p.size(0) != x.size(axis)) {
    throw std::invalid_argument(std::string(name) + " has shape " + ShapeStr(p) + " but x has " +
                                std::to_string(x.size(axis)) + " channels along axis " + std::to_string(axis) +
                                " (shape " + ShapeStr(x) + "): expected [" + std::to_string(x.size(axis)) + "]");
  }
  return p.to(x.scalar_type()).contiguous();
}

// Parameters are tiny: reading them on the host costs nothing on the CPU (a sync on CUDA).
void CheckOrder(const at::Tensor& lo, const at::Tensor& hi, int64_t axis) {
  at::Tensor l = lo, h = hi;
  if (!lo.device().is_cpu() || (lo.scalar_type() != at::kFloat && lo.scalar_type() != at::kDouble)) {
    l = lo.detach().to(at::kCPU, at::kDouble), h = hi.detach().to(at::kCPU, at::kDouble);
  }
  AT_DISPATCH_FLOATING_TYPES(l.scalar_type(), "fakeQuantize", [&] {
    const scalar_t *pl = l.data_ptr<scalar_t>(), *ph = h.data_ptr<scalar_t>();
    for (int64_t c = 0; c < l.numel(); ++c) {
      if (!(ph[c] < pl[c])) continue;
      std::string where = axis < 0 ? "" : " in channel " + std::to_string(c);
      throw std::invalid_argument("hi < lo" + where + " (lo = " + c10::str(static_cast<double>(pl[c])) +
                                  ", hi = " + c10::str(static_cast<double>(ph[c])) + ")");
    }
  });
}

}  // namespace

// fakeQuantize(x, lo, hi, sigma, axis|null, method, delta, training, aten?): aten forces the
// tensor-op path (tests compare the two). training = false makes the noise step gradient its
// expectation (the lsq form) for every method: evaluation draws no random numbers.
void RegisterQuantizer(Exports exports) {
  GDNSQ_FN(exports, "fakeQuantize", {
    const at::Tensor& x0 = A_T(0);
    if (!at::isFloatingType(x0.scalar_type()))
      throw std::invalid_argument(std::string("x must be a floating-point tensor, got ") + DTypeName(x0.scalar_type()));
    int64_t axis = -1;
    if (!info[4].IsNull() && !info[4].IsUndefined()) {
      const int64_t a = A_INT(4), nd = x0.dim();
      if (a < -nd || a >= nd)
        throw std::invalid_argument("axis " + std::to_string(a) + " is out of range for x of shape " + ShapeStr(x0) +
                                    " (" + std::to_string(nd) + " dims)");
      axis = a < 0 ? a + nd : a;
    }
    Method method = ParseMethod(A_STR(5));
    const double delta = A_NUM(6);
    if (!std::isfinite(delta) || delta < 0)
      throw std::invalid_argument("delta must be a finite number ≥ 0, got " + c10::str(delta));
    const bool noise = A_BOOL(7) && method != Method::kLsq;
    const bool aten = info.Length() > 8 && info[8].IsBoolean() && A_BOOL(8);
    at::Tensor lo = CheckParam(A_T(1), "lo", x0, axis);
    at::Tensor hi = CheckParam(A_T(2), "hi", x0, axis);
    at::Tensor sigma = CheckParam(A_T(3), "sigma", x0, axis);
    CheckOrder(lo, hi, axis);
    RET(FakeQuantFunction::apply(x0.contiguous(), lo, hi, sigma, axis, static_cast<int64_t>(method), delta, noise, aten));
  });
}

}  // namespace gdnsq
