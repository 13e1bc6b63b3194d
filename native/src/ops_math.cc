// Elementwise arithmetic (with broadcasting), comparisons, reductions, matmul.
#include "common.h"

namespace gdnsq {

// Binary ops accept a tensor or a number for either operand. A number becomes a "wrapped
// number" tensor so type promotion follows PyTorch's rules for Python scalars.
static at::Tensor Operand(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (IsTensor(info[i])) return Unwrap(info[i], op, i);
  double v = Num(info[i], op, i);
  bool integral = v == static_cast<double>(static_cast<int64_t>(v));
  at::Tensor t = integral ? at::scalar_tensor(static_cast<int64_t>(v), at::kLong) : at::scalar_tensor(v, at::kDouble);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

#define BINARY(name, fn)                                                        \
  GDNSQ_FN(exports, name, {                                                     \
    if (!IsTensor(info[0]) && !IsTensor(info[1]))                               \
      ArgError(OP, 0, "needs at least one tensor operand");                     \
    RET(fn(Operand(info, 0, OP), Operand(info, 1, OP)));                        \
  })

#define UNARY(name, fn) GDNSQ_FN(exports, name, { RET(fn(A_T(0))); })

#define REDUCE(name, fn)                                                        \
  GDNSQ_FN(exports, name, {                                                     \
    if (info[1].IsUndefined() || info[1].IsNull()) RET(fn(A_T(0)));               \
    RET(fn(A_T(0), A_INTS(1), info[2].IsBoolean() && A_BOOL(2)));                     \
  })

static at::Tensor Add(const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }
static at::Tensor Sub(const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }
static at::Tensor Mul(const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }
static at::Tensor Div(const at::Tensor& a, const at::Tensor& b) { return at::div(a, b); }
static at::Tensor Pow(const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }
static at::Tensor Maximum(const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }
static at::Tensor Minimum(const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }
static at::Tensor Eq(const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }
static at::Tensor Ne(const at::Tensor& a, const at::Tensor& b) { return at::ne(a, b); }
static at::Tensor Lt(const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }
static at::Tensor Le(const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }
static at::Tensor Gt(const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }
static at::Tensor Ge(const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }
static at::Tensor LogicalAnd(const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }
static at::Tensor LogicalOr(const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }

static at::Tensor Sum(const at::Tensor& a) { return a.sum(); }
static at::Tensor Sum(const at::Tensor& a, at::IntArrayRef d, bool k) { return a.sum(d, k); }
static at::Tensor Mean(const at::Tensor& a) { return a.mean(); }
static at::Tensor Mean(const at::Tensor& a, at::IntArrayRef d, bool k) { return a.mean(d, k); }
static at::Tensor Amax(const at::Tensor& a) { return a.amax(at::IntArrayRef{}); }
static at::Tensor Amax(const at::Tensor& a, at::IntArrayRef d, bool k) { return a.amax(d, k); }
static at::Tensor Amin(const at::Tensor& a) { return a.amin(at::IntArrayRef{}); }
static at::Tensor Amin(const at::Tensor& a, at::IntArrayRef d, bool k) { return a.amin(d, k); }

void RegisterMathOps(Exports exports) {
  BINARY("add", Add);
  BINARY("sub", Sub);
  BINARY("mul", Mul);
  BINARY("div", Div);
  BINARY("pow", Pow);
  BINARY("maximum", Maximum);
  BINARY("minimum", Minimum);
  BINARY("eq", Eq);
  BINARY("ne", Ne);
  BINARY("lt", Lt);
  BINARY("le", Le);
  BINARY("gt", Gt);
  BINARY("ge", Ge);
  BINARY("logicalAnd", LogicalAnd);
  BINARY("logicalOr", LogicalOr);

  UNARY("neg", at::neg);
  UNARY("round", at::round);
  UNARY("floor", at::floor);
  UNARY("ceil", at::ceil);
  UNARY("trunc", at::trunc);
  UNARY("exp", at::exp);
  UNARY("exp2", at::exp2);
  UNARY("log", at::log);
  UNARY("log2", at::log2);
  UNARY("abs", at::abs);
  UNARY("sign", at::sign);
  UNARY("sqrt", at::sqrt);
  UNARY("rsqrt", at::rsqrt);
  UNARY("square", at::square);
  UNARY("reciprocal", at::reciprocal);
  UNARY("sigmoid", at::sigmoid);
  UNARY("tanh", at::tanh);
  // ONNX Erf (the exact GELU of imported graphs is written with it).
  UNARY("erf", at::erf);
  UNARY("relu", at::relu);
  GDNSQ_FN(exports, "relu_", { A_T(0).relu_(); return info[0]; });
  UNARY("logicalNot", at::logical_not);
  UNARY("isnan", at::isnan);
  UNARY("isfinite", at::isfinite);

  // clamp(x, lo, hi): each bound a number, a tensor, or null for none.
  GDNSQ_FN(exports, "clamp", {
    at::Tensor& x = A_T(0);
    bool tl = IsTensor(info[1]), th = IsTensor(info[2]);
    if (tl || th) {
      c10::optional<at::Tensor> lo, hi;
      if (tl) lo = A_T(1); else if (info[1].IsNumber()) lo = at::scalar_tensor(A_NUM(1), x.options());
      if (th) hi = A_T(2); else if (info[2].IsNumber()) hi = at::scalar_tensor(A_NUM(2), x.options());
      RET(at::clamp(x, lo, hi));
    }
    c10::optional<at::Scalar> lo, hi;
    if (info[1].IsNumber()) lo = A_NUM(1);
    if (info[2].IsNumber()) hi = A_NUM(2);
    if (!lo && !hi) ArgError(OP, 1, "clamp needs at least one bound");
    RET(at::clamp(x, lo, hi));
  });
  GDNSQ_FN(exports, "where", {
    at::Tensor& c = A_T(0);
    at::Tensor a = IsTensor(info[1]) ? A_T(1) : at::scalar_tensor(A_NUM(1), IsTensor(info[2]) ? A_T(2).options() : at::TensorOptions().dtype(at::kFloat));
    at::Tensor b = IsTensor(info[2]) ? A_T(2) : at::scalar_tensor(A_NUM(2), a.options());
    RET(at::where(c, a, b));
  });

  REDUCE("sum", Sum);
  REDUCE("mean", Mean);
  REDUCE("amax", Amax);
  REDUCE("amin", Amin);
  // var/std(x, dims|null, unbiased, keepdim)
  GDNSQ_FN(exports, "var", {
    bool unbiased = info[2].IsBoolean() ? A_BOOL(2) : true;
    bool keep = info[3].IsBoolean() && A_BOOL(3);
    if (info[1].IsUndefined() || info[1].IsNull()) RET(A_T(0).var(unbiased));
    RET(A_T(0).var(at::IntArrayRef(A_INTS(1)), unbiased, keep));
  });
  GDNSQ_FN(exports, "std", {
    bool unbiased = info[2].IsBoolean() ? A_BOOL(2) : true;
    bool keep = info[3].IsBoolean() && A_BOOL(3);
    if (info[1].IsUndefined() || info[1].IsNull()) RET(A_T(0).std(unbiased));
    RET(A_T(0).std(at::IntArrayRef(A_INTS(1)), unbiased, keep));
  });
  GDNSQ_FN(exports, "argmax", {
    if (info[1].IsUndefined() || info[1].IsNull()) RET(A_T(0).argmax());
    RET(A_T(0).argmax(A_INT(1), info[2].IsBoolean() && A_BOOL(2)));
  });
  GDNSQ_FN(exports, "argmin", {
    if (info[1].IsUndefined() || info[1].IsNull()) RET(A_T(0).argmin());
    RET(A_T(0).argmin(A_INT(1), info[2].IsBoolean() && A_BOOL(2)));
  });
  GDNSQ_FN(exports, "topkIndices", { RET(std::get<1>(A_T(0).topk(A_INT(1), A_INT(2)))); });
  GDNSQ_FN(exports, "matmul", { RET(at::matmul(A_T(0), A_T(1))); });
  GDNSQ_FN(exports, "linear", { RET(at::linear(A_T(0), A_T(1), A_TOPT(2))); });
  GDNSQ_FN(exports, "allclose", {
    return Napi::Boolean::New(info.Env(), at::allclose(A_T(0), A_T(1), A_NUM(2), A_NUM(3)));
  });
  GDNSQ_FN(exports, "equal", { return Napi::Boolean::New(info.Env(), at::equal(A_T(0), A_T(1))); });
}

}  // namespace gdnsq
