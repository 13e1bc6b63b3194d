#!/usr/bin/env node
// Locates libtorch for the native build and prints one gyp-consumable value.
// LIBTORCH=/path (a tree with include/ and lib/, as PyTorch ships it, CPU or CUDA) wins;
// otherwise Debian's libtorch-dev (headers in /usr/include, libs in the multiarch dir).
'use strict';
const fs = require('fs');
const path = require('path');

function fail(msg) {
  process.stderr.write(`gdnsq: ${msg}\n`);
  process.exit(1);
}

function locate() {
  const env = process.env.LIBTORCH;
  if (env) {
    const root = path.resolve(env);
    const inc = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(inc, 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h')))
      fail(`LIBTORCH=${env} has no include/torch/csrc/api/include/torch/torch.h: point it at an unpacked libtorch`);
    if (!fs.existsSync(path.join(lib, 'libtorch.so')) && !fs.existsSync(path.join(lib, 'libtorch.dylib')))
      fail(`LIBTORCH=${env} has no lib/libtorch.so`);
    return { inc: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')], lib, cmake: path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake') };
  }
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];
  const lib = multiarch.find((d) => fs.existsSync(path.join(d, 'libtorch.so')));
  if (!lib || !fs.existsSync('/usr/include/torch/csrc/api/include/torch/torch.h'))
    fail('libtorch not found: install it with `apt-get install libtorch-dev` (Debian), or set LIBTORCH=/path/to/libtorch');
  return { inc: ['/usr/include', '/usr/include/torch/csrc/api/include'], lib, cmake: path.join(lib, 'cmake', 'Torch', 'TorchConfig.cmake') };
}

// The C++ ABI flag must match how libtorch was built (PyTorch's own builds differ by version).
function abiFlag(cmake) {
  try {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(cmake, 'utf8'));
    if (m) return `-D_GLIBCXX_USE_CXX11_ABI=${m[1]}`;
  } catch { /* no cmake config: keep the compiler's default */ }
  return '';
}

// c10d backends (native/src/dist.cc): libtorch exports ProcessGroupGloo, but its header needs
// Gloo's own headers (Debian: libgloo-dev); NCCL only with a CUDA libtorch and nccl.h at hand.
function distFlags() {
  const dirs = [...t.inc, '/usr/include', '/usr/local/cuda/include'];
  const found = (f) => dirs.some((d) => fs.existsSync(path.join(d, f)));
  const flags = [];
  if (found('gloo/algorithm.h')) flags.push('-DUSE_C10D_GLOO', '-DGDNSQ_GLOO=1');
  if (has('torch_cuda') && found('nccl.h') && found('cuda_runtime_api.h')) flags.push('-DUSE_C10D_NCCL', '-DGDNSQ_NCCL=1');
  return flags;
}

const t = locate();
const what = process.argv[2];
const has = (name) => fs.existsSync(path.join(t.lib, `lib${name}.so`));
const cudaInc = has('torch_cuda') && fs.existsSync('/usr/local/cuda/include') ? ['/usr/local/cuda/include'] : [];
if (what === '--include') console.log([...t.inc, ...cudaInc].join(' '));
else if (what === '--libdir') console.log(t.lib);
else if (what === '--libs') {
  // torch_cuda registers its kernels from static initialisers: keep it linked even if unused.
  // -fopenmp: ATen's at::parallel_for is an inline `#pragma omp parallel` (OpenMP backend), so the
  // addon's own kernels run on libtorch's threads only when compiled and linked with OpenMP.
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10', '-fopenmp'];
  if (has('torch_cuda')) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  console.log([`-L${t.lib}`, `-Wl,-rpath,${t.lib}`, ...libs].join(' '));
} else if (what === '--cflags') console.log(['-std=c++17', '-fopenmp', abiFlag(t.cmake), has('torch_cuda') ? '-DGDNSQ_CUDA=1' : '', ...distFlags()].filter(Boolean).join(' '));
else if (what === '--check') console.log(`libtorch: ${t.inc[0]} ${t.lib}${has('torch_cuda') ? ' (CUDA)' : ''}`);
else fail('usage: libtorch.js --include|--libdir|--libs|--cflags|--check');
