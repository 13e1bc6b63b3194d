// Creation, inspection, data transfer, views/indexing, autograd and in-place updates.
#include "common.h"
#include <cstring>

namespace gdnsq {

static at::TensorOptions Opts(at::ScalarType dt) { return at::TensorOptions().dtype(dt); }

static Napi::Value ToTypedArray(Napi::Env env, const at::Tensor& src) {
  at::Tensor t = src.detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel());
  size_t bytes = t.nbytes();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buf, 0);
    case at::kLong: return Napi::BigInt64Array::New(env, n, buf, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kByte:
    case at::kBool: return Napi::Uint8Array::New(env, n, buf, 0);
    default: throw std::invalid_argument(std::string("unsupported dtype ") + DTypeName(t.scalar_type()));
  }
}

void RegisterTensorOps(Exports exports) {
  // fromBuffer(typedArray, dtype, shape): copies the bytes into a fresh CPU tensor.
  GDNSQ_FN(exports, "fromBuffer", {
    if (!info[0].IsTypedArray()) ArgError(OP, 0, "must be a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    at::ScalarType dt = A_DTYPE(1);
    auto shape = A_INTS(2);
    // Saturates at SIZE_MAX on overflow, unless some dimension is 0.
    size_t want = at::elementSize(dt);
    bool empty = false;
    for (auto d : shape) {
      if (d < 0) ArgError(OP, 2, "has a negative dimension");
      empty = empty || d == 0;
      if (want != SIZE_MAX && __builtin_mul_overflow(want, static_cast<size_t>(d), &want)) want = SIZE_MAX;
    }
    if (empty) want = 0;
    if (ta.ByteLength() != want)
      ArgError(OP, 0, "holds " + std::to_string(ta.ByteLength()) + " bytes but shape " + c10::str(at::IntArrayRef(shape)) +
                          " of " + DTypeName(dt) + " needs " + (want == SIZE_MAX ? std::string("more") : std::to_string(want)));
    // bool is copied as bytes and then compared with 0: a byte other than 0/1 is not a valid bool.
    at::Tensor t = at::empty(shape, Opts(dt == at::kBool ? at::kByte : dt));
    if (want) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), want);
    RET(dt == at::kBool ? t.ne(0) : t);
  });
  GDNSQ_FN(exports, "scalarTensor", { RET(at::scalar_tensor(A_NUM(0), Opts(A_DTYPE(1)))); });
  GDNSQ_FN(exports, "zeros", { RET(at::zeros(A_INTS(0), Opts(A_DTYPE(1)))); });
  GDNSQ_FN(exports, "ones", { RET(at::ones(A_INTS(0), Opts(A_DTYPE(1)))); });
  GDNSQ_FN(exports, "full", { RET(at::full(A_INTS(0), A_NUM(1), Opts(A_DTYPE(2)))); });
  GDNSQ_FN(exports, "arange", { RET(at::arange(A_NUM(0), A_NUM(1), A_NUM(2), Opts(A_DTYPE(3)))); });
  GDNSQ_FN(exports, "rand", { RET(at::rand(A_INTS(0), Opts(A_DTYPE(1)))); });
  GDNSQ_FN(exports, "randn", { RET(at::randn(A_INTS(0), Opts(A_DTYPE(1)))); });
  GDNSQ_FN(exports, "randint", { RET(at::randint(A_INT(0), A_INT(1), A_INTS(2), Opts(A_DTYPE(3)))); });
  GDNSQ_FN(exports, "randperm", { RET(at::randperm(A_INT(0), Opts(at::kLong))); });
  GDNSQ_FN(exports, "bernoulli", { RET(at::bernoulli(A_T(0), A_NUM(1))); });
  GDNSQ_FN(exports, "zerosLike", { RET(at::zeros_like(A_T(0))); });
  GDNSQ_FN(exports, "onesLike", { RET(at::ones_like(A_T(0))); });
  GDNSQ_FN(exports, "randLike", { RET(at::rand_like(A_T(0))); });

  // Inspection.
  GDNSQ_FN(exports, "shape", {
    auto s = A_T(0).sizes();
    auto arr = Napi::Array::New(info.Env(), s.size());
    for (size_t i = 0; i < s.size(); ++i) arr.Set(i, Napi::Number::New(info.Env(), static_cast<double>(s[i])));
    return arr;
  });
  GDNSQ_FN(exports, "dtype", { return Napi::String::New(info.Env(), DTypeName(A_T(0).scalar_type())); });
  GDNSQ_FN(exports, "device", { return Napi::String::New(info.Env(), A_T(0).device().str()); });
  GDNSQ_FN(exports, "data", { return ToTypedArray(info.Env(), A_T(0)); });
  GDNSQ_FN(exports, "item", {
    at::Tensor& t = A_T(0);
    if (t.numel() != 1) throw std::invalid_argument("item() needs a tensor with one element, got " + std::to_string(t.numel()));
    return Napi::Number::New(info.Env(), t.item().toDouble());
  });
  GDNSQ_FN(exports, "to", {
    at::Tensor& t = A_T(0);
    at::ScalarType dt = info[1].IsUndefined() ? t.scalar_type() : A_DTYPE(1);
    at::Device dev = info[2].IsUndefined() ? t.device() : DeviceOf(info[2], OP, 2);
    RET(t.to(dev, dt));
  });
  GDNSQ_FN(exports, "isContiguous", { return Napi::Boolean::New(info.Env(), A_T(0).is_contiguous()); });

  // Views and indexing.
  GDNSQ_FN(exports, "reshape", { RET(A_T(0).reshape(A_INTS(1))); });
  GDNSQ_FN(exports, "view", { RET(A_T(0).view(A_INTS(1))); });
  GDNSQ_FN(exports, "permute", { RET(A_T(0).permute(A_INTS(1))); });
  GDNSQ_FN(exports, "transpose", { RET(A_T(0).transpose(A_INT(1), A_INT(2))); });
  GDNSQ_FN(exports, "contiguous", { RET(A_T(0).contiguous()); });
  GDNSQ_FN(exports, "clone", { RET(A_T(0).clone()); });
  GDNSQ_FN(exports, "expand", { RET(A_T(0).expand(A_INTS(1))); });
  GDNSQ_FN(exports, "squeeze", { RET(info[1].IsUndefined() ? A_T(0).squeeze() : A_T(0).squeeze(A_INT(1))); });
  GDNSQ_FN(exports, "unsqueeze", { RET(A_T(0).unsqueeze(A_INT(1))); });
  GDNSQ_FN(exports, "flatten", { RET(A_T(0).flatten(A_INT(1), A_INT(2))); });
  GDNSQ_FN(exports, "slice", { RET(A_T(0).slice(A_INT(1), A_INT(2), A_INT(3), A_INT(4))); });
  GDNSQ_FN(exports, "narrow", { RET(A_T(0).narrow(A_INT(1), A_INT(2), A_INT(3))); });
  GDNSQ_FN(exports, "select", { RET(A_T(0).select(A_INT(1), A_INT(2))); });
  GDNSQ_FN(exports, "indexSelect", { RET(at::index_select(A_T(0), A_INT(1), A_T(2))); });
  GDNSQ_FN(exports, "gather", { RET(at::gather(A_T(0), A_INT(1), A_T(2))); });
  GDNSQ_FN(exports, "cat", { RET(at::cat(A_TLIST(0), A_INT(1))); });
  GDNSQ_FN(exports, "stack", { RET(at::stack(A_TLIST(0), A_INT(1))); });
  GDNSQ_FN(exports, "oneHot", { RET(at::one_hot(A_T(0), A_INT(1))); });
  GDNSQ_FN(exports, "flip", { RET(at::flip(A_T(0), A_INTS(1))); });
  GDNSQ_FN(exports, "constantPad", { RET(at::constant_pad_nd(A_T(0), A_INTS(1), A_NUM(2))); });

  // Autograd.
  GDNSQ_FN(exports, "requiresGrad", { return Napi::Boolean::New(info.Env(), A_T(0).requires_grad()); });
  GDNSQ_FN(exports, "setRequiresGrad", {
    A_T(0).set_requires_grad(A_BOOL(1));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "backward", {
    at::Tensor& t = A_T(0);
    auto g = A_TOPT(1);
    if (!g && t.numel() != 1)
      throw std::invalid_argument("backward() without a gradient needs a tensor with one element, got " + std::to_string(t.numel()));
    t.backward(g ? *g : at::Tensor(), /*retain_graph=*/info[2].IsBoolean() ? c10::optional<bool>(A_BOOL(2)) : c10::nullopt);
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "grad", {
    at::Tensor g = A_T(0).grad();
    if (!g.defined()) return info.Env().Null();
    RET(g);
  });
  GDNSQ_FN(exports, "zeroGrad", {
    at::Tensor& t = A_T(0);
    if (t.grad().defined()) t.mutable_grad().reset();
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "detach", { RET(A_T(0).detach()); });
  GDNSQ_FN(exports, "isLeaf", { return Napi::Boolean::New(info.Env(), A_T(0).is_leaf()); });

  // In-place updates (optimizers, running statistics, parameter loading).
  GDNSQ_FN(exports, "copy_", {
    A_T(0).copy_(A_T(1));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "zero_", {
    A_T(0).zero_();
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "fill_", {
    A_T(0).fill_(A_NUM(1));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "add_", {  // a += alpha * b (b tensor or number)
    at::Tensor& a = A_T(0);
    double alpha = info[2].IsUndefined() ? 1.0 : A_NUM(2);
    if (IsTensor(info[1])) a.add_(A_T(1), alpha); else a.add_(A_NUM(1) * alpha);
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "mul_", {
    if (IsTensor(info[1])) A_T(0).mul_(A_T(1)); else A_T(0).mul_(A_NUM(1));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "addcmul_", {  // a += value * b * c
    A_T(0).addcmul_(A_T(1), A_T(2), A_NUM(3));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "addcdiv_", {  // a += value * b / c
    A_T(0).addcdiv_(A_T(1), A_T(2), A_NUM(3));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "lerp_", {
    A_T(0).lerp_(A_T(1), A_NUM(2));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "clamp_", {
    at::Tensor& a = A_T(0);
    c10::optional<at::Scalar> lo, hi;
    if (info[1].IsNumber()) lo = A_NUM(1);
    if (info[2].IsNumber()) hi = A_NUM(2);
    a.clamp_(lo, hi);
    return info.Env().Undefined();
  });
}

}  // namespace gdnsq
