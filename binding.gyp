{
  "targets": [{
    "target_name": "gdnsq_native",
    "sources": [
      "native/src/addon.cc",
      "native/src/ops_tensor.cc",
      "native/src/ops_math.cc",
      "native/src/ops_nn.cc",
      "native/src/custom_swish.cc",
      "native/src/bench_resnet.cc",
      "native/src/quantizer.cc",
      "native/src/quantizer_kernels.cc",
      "native/src/dist.cc",
      "native/src/lowbit.cc",
      "native/src/lowbit_kernels.cc"
    ],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node scripts/libtorch.js --include)"
    ],
    "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
    # Quantizer kernels: -ffp-contract=off keeps code*s + lo a multiply then an add (bit-exact
    # with ATen), -fno-trapping-math lets their branch-free selects vectorize, -march=native
    # widens them (about 2.5x here); GDNSQ_PORTABLE=1 at configure time leaves it out.
    "cflags_cc": ["<!@(node scripts/libtorch.js --cflags)", "-O3", "-ffp-contract=off", "-fno-trapping-math",
                  "<!@(node -p \"process.env.GDNSQ_PORTABLE === '1' ? '' : '-march=native'\")",
                  "-fexceptions", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
    "libraries": ["<!@(node scripts/libtorch.js --libs)"]
  }]
}
