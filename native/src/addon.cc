// Module entry, handle lifetime and argument decoding shared by every binding file.
#include "common.h"
#include "dist.h"
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <mutex>
#include <c10/core/GradMode.h>
#include <torch/version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gdnsq {

int64_t g_live_handles = 0;

// Marks the externals this addon creates, so a foreign External passed where a tensor is
// expected is rejected instead of being reinterpreted as a Holder.
static const napi_type_tag kHolderTag = {0x6764'6e73'715f'7465ULL, 0x6e73'6f72'5f68'6f6cULL};

std::string FirstLine(const std::string& msg) {
  size_t start = 0;
  while (start < msg.size()) {
    size_t end = msg.find('\n', start);
    if (end == std::string::npos) end = msg.size();
    size_t a = msg.find_first_not_of(" \t\r", start);
    if (a != std::string::npos && a < end) {
      size_t b = msg.find_last_not_of(" \t\r", end - 1);
      return msg.substr(a, b - a + 1);
    }
    start = end + 1;
  }
  return "(no message)";
}

static void Release(Napi::Env env, Holder* h) {
  if (!h->t.defined()) return;
  if (h->bytes) Napi::MemoryManagement::AdjustExternalMemory(env, -h->bytes);
  h->bytes = 0;
  h->t.reset();
  --g_live_handles;
}

static void Finalize(Napi::Env env, Holder* h) {
  Release(env, h);
  delete h;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  auto* h = new Holder{std::move(t), 0};
  ++g_live_handles;
  auto ext = Napi::External<Holder>::New(env, h, Finalize);
  ext.TypeTag(&kHolderTag);
  return ext;
}

[[noreturn]] void ArgError(const char* op, size_t index, const std::string& what) {
  throw std::invalid_argument("argument " + std::to_string(index) + " " + what);
}

static Holder* HolderOf(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsExternal()) ArgError(op, index, "must be a tensor");
  auto ext = v.As<Napi::External<Holder>>();
  if (!ext.CheckTypeTag(&kHolderTag)) ArgError(op, index, "must be a tensor (got a foreign external)");
  return ext.Data();
}

at::Tensor& Unwrap(const Napi::Value& v, const char* op, size_t index) {
  Holder* h = HolderOf(v, op, index);
  if (!h->t.defined()) ArgError(op, index, "is a disposed tensor (it was freed by dispose() or its scope ended)");
  return h->t;
}

c10::optional<at::Tensor> UnwrapOpt(const Napi::Value& v, const char* op, size_t index) {
  if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
  return Unwrap(v, op, index);
}

std::vector<at::Tensor> UnwrapList(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsArray()) ArgError(op, index, "must be an array of tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(Unwrap(arr.Get(i), op, index));
  return out;
}

// Exactly representable as int64 (the range check comes first: casting an out-of-range or NaN
// double to an integer is undefined behaviour).
static bool AsInt64(double d, int64_t* out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

std::vector<int64_t> IntList(const Napi::Value& v, const char* op, size_t index) {
  if (v.IsNumber()) return {Int(v, op, index)};
  if (!v.IsArray()) ArgError(op, index, "must be an array of integers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber() || !AsInt64(e.As<Napi::Number>().DoubleValue(), &out[i]))
      ArgError(op, index, "must be an array of integers");
  }
  return out;
}

int64_t Int(const Napi::Value& v, const char* op, size_t index) {
  int64_t out = 0;
  if (!v.IsNumber() || !AsInt64(v.As<Napi::Number>().DoubleValue(), &out)) ArgError(op, index, "must be an integer");
  return out;
}

double Num(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsNumber()) ArgError(op, index, "must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Bool(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsBoolean()) ArgError(op, index, "must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string Str(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsString()) ArgError(op, index, "must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool IsTensor(const Napi::Value& v) { return v.IsExternal(); }

at::ScalarType DType(const Napi::Value& v, const char* op, size_t index) {
  std::string s = Str(v, op, index);
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  ArgError(op, index, "is an unknown dtype '" + s + "' (float32, float64, int64, int32, uint8, bool)");
}

const char* DTypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

at::Device DeviceOf(const Napi::Value& v, const char* op, size_t index) {
  std::string s = Str(v, op, index);
  try {
    return at::Device(s);
  } catch (const c10::Error&) {
    ArgError(op, index, "is an unknown device '" + s + "' (cpu, cuda, cuda:N)");
  }
}

// A training step allocates and frees the same few hundred MB every time. glibc's defaults
// (a threshold that moves with the sizes seen, trimming of the heap top) hand much of it back
// to the OS after each step and page-fault it in again on the next: measured on ResNet-20
// driven op by op from TypeScript, ~40k minor faults and +25% CPU per step. Fixed thresholds
// keep freed blocks for reuse. Skipped when the user tunes malloc through the environment.
static void TuneMalloc() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static void RegisterRuntime(Exports exports) {
  GDNSQ_FN(exports, "dispose", {
    Release(info.Env(), HolderOf(info[0], OP, 0));
    return info.Env().Undefined();
  });
  // Called once a tensor's release is up to the garbage collector. The storage is what a handle
  // keeps alive (an expanded view's nbytes can be far larger than its storage).
  GDNSQ_FN(exports, "reportExternal", {
    Holder* h = HolderOf(info[0], OP, 0);
    if (h->t.defined() && !h->bytes && h->t.device().is_cpu() && h->t.has_storage()) {
      h->bytes = static_cast<int64_t>(h->t.storage().nbytes());
      if (h->bytes) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), h->bytes);
    }
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "isDisposed", {
    return Napi::Boolean::New(info.Env(), !HolderOf(info[0], OP, 0)->t.defined());
  });
  // What V8 has been told about (process.memoryUsage() shows only ArrayBuffer memory).
  GDNSQ_FN(exports, "externalMemory", {
    return Napi::Number::New(info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
  });
  GDNSQ_FN(exports, "liveHandles", { return Napi::Number::New(info.Env(), static_cast<double>(g_live_handles)); });
  GDNSQ_FN(exports, "getNumThreads", { return Napi::Number::New(info.Env(), at::get_num_threads()); });
  GDNSQ_FN(exports, "setNumThreads", {
    int64_t n = A_INT(0);
    // Each thread is created eagerly by the pool: an absurd count would exhaust the process.
    if (n < 1 || n > 1024) ArgError(OP, 0, "must be between 1 and 1024");
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "manualSeed", {
    at::manual_seed(static_cast<uint64_t>(A_INT(0)));
    return info.Env().Undefined();
  });
  // The default CPU generator's full state (a uint8 tensor), so a resumed run continues the
  // exact random stream (quantizer noise, dropout) instead of re-seeding.
  GDNSQ_FN(exports, "getRngState", {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return Wrap(info.Env(), gen.get_state());
  });
  GDNSQ_FN(exports, "setRngState", {
    at::Tensor& t = A_T(0);
    if (t.scalar_type() != at::kByte || t.dim() != 1) ArgError(OP, 0, "must be a 1-D uint8 tensor from getRngState()");
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(t);
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "setGradEnabled", {
    c10::GradMode::set_enabled(A_BOOL(0));
    return info.Env().Undefined();
  });
  GDNSQ_FN(exports, "isGradEnabled", { return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled()); });
  GDNSQ_FN(exports, "cudaAvailable", {
    return Napi::Boolean::New(info.Env(), at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0);
  });
  GDNSQ_FN(exports, "version", {
    return Napi::String::New(info.Env(), TORCH_VERSION);
  });
}

}  // namespace gdnsq

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  gdnsq::TuneMalloc();
  gdnsq::RegisterRuntime(exports);
  gdnsq::RegisterTensorOps(exports);
  gdnsq::RegisterMathOps(exports);
  gdnsq::RegisterNNOps(exports);
  gdnsq::RegisterCustomSwish(exports);
  gdnsq::RegisterBench(exports);
  gdnsq::RegisterQuantizer(exports);
  gdnsq::RegisterDist(exports);
  gdnsq::RegisterLowbit(exports);
  return exports;
}

NODE_API_MODULE(gdnsq_native, Init)
