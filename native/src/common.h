// Shared plumbing for the bindings: tensor handles, argument decoding, error translation.
// A handle is a Napi::External owning a heap at::Tensor. dispose() empties the tensor at once
// (deterministic release); the External's finalizer only deletes the small holder.
// Only tensors left to the garbage collector are reported to V8 as external memory (see
// reportExternal): reporting the many short-lived tensors a scope frees anyway would make V8
// run pointless full collections several times per training step.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <string>
#include <vector>
#include <optional>

namespace gdnsq {

struct Holder {
  at::Tensor t;
  int64_t bytes = 0;  // reported to V8 as external memory; 0 until reportExternal
};

extern int64_t g_live_handles;

Napi::Value Wrap(Napi::Env env, at::Tensor t);
at::Tensor& Unwrap(const Napi::Value& v, const char* op, size_t index);
c10::optional<at::Tensor> UnwrapOpt(const Napi::Value& v, const char* op, size_t index);
std::vector<at::Tensor> UnwrapList(const Napi::Value& v, const char* op, size_t index);
std::vector<int64_t> IntList(const Napi::Value& v, const char* op, size_t index);
int64_t Int(const Napi::Value& v, const char* op, size_t index);
double Num(const Napi::Value& v, const char* op, size_t index);
bool Bool(const Napi::Value& v, const char* op, size_t index);
std::string Str(const Napi::Value& v, const char* op, size_t index);
at::ScalarType DType(const Napi::Value& v, const char* op, size_t index);
const char* DTypeName(at::ScalarType t);
at::Device DeviceOf(const Napi::Value& v, const char* op, size_t index);
// A tensor or a JS number (as a 0-d tensor-free Scalar).
bool IsTensor(const Napi::Value& v);
[[noreturn]] void ArgError(const char* op, size_t index, const std::string& what);

// The first non-empty line of an exception message (libtorch appends backtraces and notes).
std::string FirstLine(const std::string& msg);

// Runs body, turning libtorch and std exceptions into one-line JS errors naming the op; any
// other C++ exception also becomes a JS error rather than terminating the process.
template <typename F>
Napi::Value Guard(const Napi::CallbackInfo& info, const char* op, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": " + FirstLine(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": " + FirstLine(e.what()));
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string(op) + ": unknown native error");
  }
}

using Exports = Napi::Object;
#define GDNSQ_FN(exports, name, ...)                                                        \
  exports.Set(name, Napi::Function::New(                                                      \
                        exports.Env(),                                                        \
                        [](const Napi::CallbackInfo& info) -> Napi::Value {                   \
                          static const char* OP = name;                                       \
                          return ::gdnsq::Guard(info, OP, [&]() -> Napi::Value __VA_ARGS__);         \
                        },                                                                    \
                        name))

// Short accessors used inside GDNSQ_FN bodies (info and OP are in scope there).
#define A_T(i) ::gdnsq::Unwrap(info[i], OP, i)
#define A_TOPT(i) ::gdnsq::UnwrapOpt(info[i], OP, i)
#define A_TLIST(i) ::gdnsq::UnwrapList(info[i], OP, i)
#define A_INTS(i) ::gdnsq::IntList(info[i], OP, i)
#define A_INT(i) ::gdnsq::Int(info[i], OP, i)
#define A_NUM(i) ::gdnsq::Num(info[i], OP, i)
#define A_BOOL(i) ::gdnsq::Bool(info[i], OP, i)
#define A_STR(i) ::gdnsq::Str(info[i], OP, i)
#define A_DTYPE(i) ::gdnsq::DType(info[i], OP, i)
#define RET(expr) return ::gdnsq::Wrap(info.Env(), (expr))

void RegisterTensorOps(Exports exports);
void RegisterMathOps(Exports exports);
void RegisterNNOps(Exports exports);
void RegisterCustomSwish(Exports exports);
void RegisterBench(Exports exports);
void RegisterQuantizer(Exports exports);
void RegisterLowbit(Exports exports);

}  // namespace gdnsq
