// c10d process groups for data-parallel training: a TCPStore rendezvous (rank 0 hosts it) and
// libtorch's own Gloo (CPU) or NCCL (CUDA) backend. The bindings are blocking, like every other
// op of the addon, but never unbounded: the store, the group's rendezvous and every collective
// run under the group's timeout, and a failure (a peer that died, a timeout) becomes one JS
// error line naming the op and the rank.
#include "dist.h"
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#if defined(GDNSQ_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(GDNSQ_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <chrono>
#include <csignal>
#include <cstdlib>
#if defined(__linux__)
#include <sys/prctl.h>
#include <unistd.h>
#endif
#include <map>
#include <thread>

namespace gdnsq {

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
  std::string backend;
};

const napi_type_tag kGroupTag = {0x6764'6e73'715f'6469ULL, 0x7374'5f67'726f'7570ULL};

Group& GroupOf(const Napi::Value& v, const char* op, size_t index) {
  if (!v.IsExternal()) ArgError(op, index, "must be a process group");
  auto ext = v.As<Napi::External<Group>>();
  if (!ext.CheckTypeTag(&kGroupTag)) ArgError(op, index, "must be a process group (got another external)");
  Group* g = ext.Data();
  if (!g->pg) ArgError(op, index, "is a destroyed process group");
  return *g;
}

// Gloo prefixes its messages with its source location ("[…/pair.cc:598] Connection closed").
std::string Clean(const std::string& msg) {
  std::string s = FirstLine(msg);
  if (!s.empty() && s[0] == '[') {
    size_t end = s.find("] ");
    if (end != std::string::npos) s = s.substr(end + 2);
  }
  return s;
}

double Seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

// Waits for a collective under the group's timeout; a failure names the rank and the likely
// cause, because the survivor of a crashed peer only sees a closed socket or a timeout.
void Wait(Group& g, const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
  auto t0 = std::chrono::steady_clock::now();
  try {
    w->wait(g.timeout);
  } catch (const std::exception& e) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char buf[96];
    std::snprintf(buf, sizeof buf, " failed on rank %d of %d after %.1f s (timeout %.0f s): ", g.rank, g.size, el, Seconds(g.timeout));
    throw std::runtime_error(std::string(what) + buf + Clean(e.what()) + " (did another rank stop or die?)");
  }
}

c10d::ReduceOp ReduceOpOf(const std::string& s, bool* avg) {
  *avg = false;
  if (s == "sum") return c10d::ReduceOp::SUM;
  if (s == "avg") { *avg = true; return c10d::ReduceOp::SUM; }  // Gloo has no AVG: sum, then divide
  if (s == "min") return c10d::ReduceOp::MIN;
  if (s == "max") return c10d::ReduceOp::MAX;
  throw std::invalid_argument("argument 2 is an unknown reduction '" + s + "' (sum, avg, min, max)");
}

// Consecutive tensors of one dtype and device, up to `cap` bytes each (a tensor larger than the
// cap gets a bucket of its own), so a model's many small gradients travel as a few flat buffers.
std::vector<std::vector<size_t>> Buckets(const std::vector<at::Tensor>& ts, int64_t cap) {
  std::vector<std::vector<size_t>> out;
  int64_t bytes = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const at::Tensor& t = ts[i];
    int64_t b = static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
    bool fresh = out.empty() || bytes + b > cap || ts[out.back()[0]].scalar_type() != t.scalar_type() ||
                 ts[out.back()[0]].device() != t.device();
    if (fresh) { out.emplace_back(); bytes = 0; }
    out.back().push_back(i);
    bytes += b;
  }
  return out;
}

at::Tensor Flatten(const std::vector<at::Tensor>& ts, const std::vector<size_t>& idx) {
  if (idx.size() == 1 && ts[idx[0]].is_contiguous()) return ts[idx[0]].view({-1});  // in place
  std::vector<at::Tensor> flat;
  flat.reserve(idx.size());
  for (size_t i : idx) flat.push_back(ts[i].reshape({-1}));
  return at::cat(flat);
}

void Unflatten(std::vector<at::Tensor>& ts, const std::vector<size_t>& idx, const at::Tensor& flat) {
  if (idx.size() == 1 && ts[idx[0]].is_contiguous()) return;
  int64_t off = 0;
  for (size_t i : idx) {
    int64_t n = ts[i].numel();
    ts[i].copy_(flat.narrow(0, off, n).view(ts[i].sizes()));
    off += n;
  }
}

// One collective per bucket of at most cap bytes, all launched before any is waited for; then
// each bucket's result is copied back where finish(flat) says so (after adjusting it).
template <typename Launch, typename Finish>
void Bucketed(Group& g, std::vector<at::Tensor>& ts, int64_t cap, const char* what, Launch&& launch, Finish&& finish) {
  at::NoGradGuard ng;
  auto buckets = Buckets(ts, cap);
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& b : buckets) {
    flats.push_back(Flatten(ts, b));
    std::vector<at::Tensor> one{flats.back()};
    works.push_back(launch(one));
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    Wait(g, works[i], what);
    if (finish(flats[i])) Unflatten(ts, buckets[i], flats[i]);
  }
}

void CheckTensors(const std::vector<at::Tensor>& ts, const char* op) {
  for (size_t i = 0; i < ts.size(); ++i) {
    if (ts[i].is_sparse()) ArgError(op, 1, "holds a sparse tensor (only dense tensors are reduced)");
  }
}

// Every rank counts itself in, then waits for the others: a missing rank is reported as such,
// not as a backend's socket timeout later.
void Join(Group& g, const std::string& addr, int64_t port) {
  const std::string key = "gdnsq/joined";
  auto deadline = std::chrono::steady_clock::now() + g.timeout;
  int64_t n = g.store->add(key, 1);
  while (n < g.size) {
    if (std::chrono::steady_clock::now() >= deadline) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " within %.1f s", Seconds(g.timeout));
      throw std::runtime_error("rank " + std::to_string(g.rank) + ": only " + std::to_string(n) + " of " + std::to_string(g.size) +
                               " ranks joined at " + addr + ":" + std::to_string(port) + buf +
                               " (is every rank started, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = g.store->add(key, 0);
  }
}

}  // namespace

#if defined(GDNSQ_GLOO)
namespace {
// Loopback masters (every rank on this machine) bind Gloo to loopback; otherwise the interface
// in GLOO_SOCKET_IFNAME, else the address this host's name resolves to (torch's own rule).
std::shared_ptr<::gloo::transport::Device> GlooDevice(const std::string& addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    if (*ifname) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1") return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
}  // namespace
#endif

static Napi::Value WrapGroup(Napi::Env env, Group* g) {
  auto ext = Napi::External<Group>::New(env, g, [](Napi::Env, Group* p) { delete p; });
  ext.TypeTag(&kGroupTag);
  return ext;
}

void RegisterDist(Exports exports) {
  // distWatchParent(launcherPid): a worker dies with its launcher. The kernel sends SIGKILL when
  // the parent exits (PR_SET_PDEATHSIG; even a kill -9 of the launcher, even while this process
  // is inside a blocking collective, where no JS timer could run). A launcher that died before
  // the call is caught by comparing the parent's pid. Returns false when the launcher is gone
  // already (the caller exits), true when armed; on systems without prctl, true and unarmed.
  GDNSQ_FN(exports, "distWatchParent", {
    int64_t want = A_INT(0);
#if defined(__linux__)
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) throw std::runtime_error("prctl(PR_SET_PDEATHSIG) failed");
    return Napi::Boolean::New(info.Env(), static_cast<int64_t>(getppid()) == want);
#else
    (void)want;
    return Napi::Boolean::New(info.Env(), true);
#endif
  });

  GDNSQ_FN(exports, "distBackends", {
    Napi::Object o = Napi::Object::New(info.Env());
#if defined(GDNSQ_GLOO)
    o.Set("gloo", true);
#else
    o.Set("gloo", false);
#endif
#if defined(GDNSQ_NCCL)
    o.Set("nccl", true);
#else
    o.Set("nccl", false);
#endif
    return o;
  });

  // distInit(masterAddr, masterPort, rank, worldSize, timeoutMs, backend): joins the group.
  // Blocks until every rank has joined, or fails after timeoutMs.
  GDNSQ_FN(exports, "distInit", {
    std::string addr = A_STR(0);
    int64_t port = A_INT(1), rank = A_INT(2), size = A_INT(3), timeoutMs = A_INT(4);
    std::string backend = A_STR(5);
    if (port < 1 || port > 65535) ArgError(OP, 1, "must be a port in 1..65535");
    if (size < 1) ArgError(OP, 3, "must be at least 1");
    if (rank < 0 || rank >= size) ArgError(OP, 2, "must be in 0..worldSize-1");
    if (timeoutMs < 1) ArgError(OP, 4, "must be a positive number of milliseconds");
    if (backend != "gloo" && backend != "nccl") ArgError(OP, 5, "is an unknown backend '" + backend + "' (gloo, nccl)");
#if !defined(GDNSQ_GLOO)
    if (backend == "gloo") throw std::runtime_error("this addon was built without Gloo (its headers were missing at build time: install libgloo-dev and rebuild)");
#endif
#if !defined(GDNSQ_NCCL)
    if (backend == "nccl") throw std::runtime_error("the NCCL backend needs a CUDA build of libtorch with NCCL (this addon was built without it)");
#endif
    auto g = std::make_unique<Group>();
    g->rank = static_cast<int>(rank);
    g->size = static_cast<int>(size);
    g->timeout = std::chrono::milliseconds(timeoutMs);
    g->backend = backend;
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = rank == 0;
    so.numWorkers = static_cast<std::size_t>(size);
    so.waitWorkers = false;  // Join() below waits, with a message that says who is missing
    so.timeout = g->timeout;
    try {
      g->store = c10::make_intrusive<c10d::TCPStore>(addr, so);
    } catch (const std::exception& e) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " within %.1f s: ", Seconds(g->timeout));
      throw std::runtime_error("rank " + std::to_string(rank) + " of " + std::to_string(size) + " could not reach the TCPStore at " + addr + ":" +
                               std::to_string(port) + buf + Clean(e.what()));
    }
    Join(*g, addr, port);
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(backend, g->store);
    if (backend == "gloo") {
#if defined(GDNSQ_GLOO)
      auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
      opts->devices.push_back(GlooDevice(addr));
      opts->threads = 2;
      try {
        g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, g->rank, g->size, opts);
      } catch (const std::exception& e) {
        throw std::runtime_error("rank " + std::to_string(rank) + " of " + std::to_string(size) + ": Gloo rendezvous failed: " + Clean(e.what()));
      }
#else
      throw std::runtime_error("this addon was built without Gloo (its headers were missing at build time: install libgloo-dev and rebuild)");
#endif
    } else if (backend == "nccl") {
#if defined(GDNSQ_NCCL)
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, g->rank, g->size, opts);
#else
      throw std::runtime_error("the NCCL backend needs a CUDA build of libtorch with NCCL (this addon was built without it)");
#endif
    } else {
      ArgError(OP, 5, "is an unknown backend '" + backend + "' (gloo, nccl)");
    }
    return WrapGroup(info.Env(), g.release());
  });

  GDNSQ_FN(exports, "distDestroy", {
    if (!info[0].IsExternal()) ArgError(OP, 0, "must be a process group");
    auto ext = info[0].As<Napi::External<Group>>();
    if (!ext.CheckTypeTag(&kGroupTag)) ArgError(OP, 0, "must be a process group (got another external)");
    Group* g = ext.Data();
    g->pg.reset();
    g->store.reset();
    return info.Env().Undefined();
  });

  // distAllreduce(group, tensors, op, bucketBytes): reduces every tensor in place across ranks,
  // packed into flat buffers of at most bucketBytes; the buckets are all in flight at once.
  GDNSQ_FN(exports, "distAllreduce", {
    Group& g = GroupOf(info[0], OP, 0);
    std::vector<at::Tensor> ts = A_TLIST(1);
    bool avg = false;
    c10d::ReduceOp rop = ReduceOpOf(A_STR(2), &avg);
    int64_t cap = A_INT(3);
    if (cap < 1) ArgError(OP, 3, "must be a positive number of bytes");
    CheckTensors(ts, OP);
    if (avg) {
      for (auto& t : ts)
        if (!at::isFloatingType(t.scalar_type())) ArgError(OP, 1, "must hold floating-point tensors for 'avg'");
    }
    Bucketed(g, ts, cap, "allreduce", [&](std::vector<at::Tensor>& one) {
      c10d::AllreduceOptions ao;
      ao.reduceOp = rop;
      ao.timeout = g.timeout;
      return g.pg->allreduce(one, ao);
    }, [&](at::Tensor& flat) {
      if (avg) flat.div_(static_cast<double>(g.size));
      return true;
    });
    return info.Env().Undefined();
  });

  // distBroadcast(group, tensors, root, bucketBytes): every rank ends with root's values.
  GDNSQ_FN(exports, "distBroadcast", {
    Group& g = GroupOf(info[0], OP, 0);
    std::vector<at::Tensor> ts = A_TLIST(1);
    int64_t root = A_INT(2), cap = A_INT(3);
    if (root < 0 || root >= g.size) ArgError(OP, 2, "must be a rank in 0.." + std::to_string(g.size - 1));
    if (cap < 1) ArgError(OP, 3, "must be a positive number of bytes");
    CheckTensors(ts, OP);
    Bucketed(g, ts, cap, "broadcast", [&](std::vector<at::Tensor>& one) {
      c10d::BroadcastOptions bo;
      bo.rootRank = root;
      bo.timeout = g.timeout;
      return g.pg->broadcast(one, bo);
    }, [&](at::Tensor&) { return g.rank != root; });
    return info.Env().Undefined();
  });

  GDNSQ_FN(exports, "distBarrier", {
    Group& g = GroupOf(info[0], OP, 0);
    c10d::BarrierOptions bo;
    bo.timeout = g.timeout;
    Wait(g, g.pg->barrier(bo), "barrier");
    return info.Env().Undefined();
  });
}

}  // namespace gdnsq
