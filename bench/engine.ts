// `gdnsq bench engine`: the binding's overhead. One ResNet-20 training step (forward, loss,
// backward; batch 128, 32×32×3) driven op by op from TypeScript, against the same sequence
// written in C++ (native/src/bench_resnet.cc) on the same parameters. The ratio of the two
// medians is the price of going through the binding once per op.
import { Tensor, F, scope, manualSeed, getNumThreads, setNumThreads, torchVersion } from '../src/engine';
import { native } from '../src/engine/native';

const THREADS = 2;
const BATCH = 128;

interface BN { weight: Tensor; bias: Tensor; runningMean: Tensor; runningVar: Tensor }
interface ConvBN { w: Tensor; bn: BN }

function convBN(outC: number, inC: number, k: number): ConvBN {
  const w = Tensor.randn([outC, inC, k, k]).mul(Math.sqrt(2 / (inC * k * k))).requiresGrad_().keep();
  const bn = {
    weight: Tensor.ones([outC]).requiresGrad_().keep(),
    bias: Tensor.zeros([outC]).requiresGrad_().keep(),
    runningMean: Tensor.zeros([outC]).keep(),
    runningVar: Tensor.ones([outC]).keep(),
  };
  return { w, bn };
}

interface Block { c1: ConvBN; c2: ConvBN; down: ConvBN | null; stride: number }
interface ResNet20 { stem: ConvBN; blocks: Block[]; fcW: Tensor; fcB: Tensor }

function build(): ResNet20 {
  return scope(() => {
    const stem = convBN(16, 3, 3);
    const blocks: Block[] = [];
    let inC = 16;
    for (let stage = 0; stage < 3; stage++) {
      const outC = 16 << stage;
      for (let b = 0; b < 3; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        const c1 = convBN(outC, inC, 3);
        const c2 = convBN(outC, outC, 3);
        const down = stride !== 1 || inC !== outC ? convBN(outC, inC, 1) : null;
        blocks.push({ c1, c2, down, stride });
        inC = outC;
      }
    }
    const fcW = Tensor.randn([10, 64]).mul(0.125).requiresGrad_().keep();
    const fcB = Tensor.zeros([10]).requiresGrad_().keep();
    return { stem, blocks, fcW, fcB };
  });
}

/** The order resnet20Step reads its parameter list in (see bench_resnet.cc). */
function flat(net: ResNet20): Tensor[] {
  const cb = (c: ConvBN): Tensor[] => [c.w, c.bn.weight, c.bn.bias, c.bn.runningMean, c.bn.runningVar];
  return [
    ...cb(net.stem),
    ...net.blocks.flatMap((b) => [...cb(b.c1), ...cb(b.c2), ...(b.down ? cb(b.down) : [])]),
    net.fcW, net.fcB,
  ];
}

function applyConvBN(c: ConvBN, x: Tensor, stride: number, padding: number): Tensor {
  const y = F.conv2d(x, c.w, null, { stride, padding });
  return F.batchNorm(y, { ...c.bn, training: true, momentum: 0.1, eps: 1e-5 });
}

/** Forward, cross-entropy, backward: the same sequence as resnet20Step. Returns the loss. */
function tsStep(net: ResNet20, x: Tensor, y: Tensor): number {
  return scope(() => {
    let h = applyConvBN(net.stem, x, 1, 1).relu();
    for (const b of net.blocks) {
      const o = applyConvBN(b.c2, applyConvBN(b.c1, h, b.stride, 1).relu(), 1, 1);
      const sc = b.down ? applyConvBN(b.down, h, b.stride, 0) : h;
      h = o.add(sc).relu();
    }
    const logits = F.linear(F.adaptiveAvgPool2d(h, 1).flatten(1), net.fcW, net.fcB);
    const loss = F.crossEntropy(logits, y);
    loss.backward();
    return loss.item();
  });
}

function cppStep(params: Tensor[], x: Tensor, y: Tensor): number {
  return scope(() => new Tensor(native.resnet20Step(x.handle, y.handle, params.map((p) => p.handle))).item());
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function timed(fn: () => number): [number, number] {
  const t0 = process.hrtime.bigint();
  const loss = fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, loss];
}

export function benchEngine(o: { json: boolean; iters: number }): void {
  if (!Number.isInteger(o.iters) || o.iters < 1) throw new Error(`bench engine: --iters must be a positive integer, got ${o.iters}`);
  const prevThreads = getNumThreads();
  setNumThreads(THREADS);
  manualSeed(0);
  const net = build();
  const params = flat(net);
  const x = Tensor.randn([BATCH, 3, 32, 32]).keep();
  const y = Tensor.randint(0, 10, [BATCH]).keep();
  const learnable = params.filter((p) => p.requiresGrad);
  const zeroGrads = (): void => learnable.forEach((p) => p.zeroGrad());
  try {
    // Batch statistics make the loss independent of the running statistics, so the two
    // paths must agree on every step: a check that they really run the same network.
    for (let i = 0; i < 2; i++) {
      zeroGrads();
      const a = tsStep(net, x, y);
      zeroGrads();
      const b = cppStep(params, x, y);
      if (Math.abs(a - b) > 1e-5 * Math.abs(b)) throw new Error(`bench engine: TS loss ${a} differs from C++ loss ${b}`);
    }
    const ts: number[] = [];
    const cpp: number[] = [];
    // Alternating the order each iteration cancels drift (thermal, other load) between the two.
    for (let i = 0; i < o.iters; i++) {
      const runTs = (): void => { zeroGrads(); ts.push(timed(() => tsStep(net, x, y))[0]); };
      const runCpp = (): void => { zeroGrads(); cpp.push(timed(() => cppStep(params, x, y))[0]); };
      if (i % 2 === 0) { runTs(); runCpp(); } else { runCpp(); runTs(); }
    }
    const tsS = median(ts);
    const cppS = median(cpp);
    const result = {
      name: 'engine', overhead_ratio: tsS / cppS, ts_step_s: tsS, cpp_step_s: cppS,
      iters: o.iters, threads: getNumThreads(), torch: torchVersion(),
    };
    if (o.json) console.log(JSON.stringify(result));
    else {
      console.log(`engine: ResNet-20 fwd+bwd, batch ${BATCH}: TypeScript op by op ${tsS.toFixed(4)} s/step, C++ ${cppS.toFixed(4)} s/step, ` +
        `overhead ×${result.overhead_ratio.toFixed(3)} (median of ${o.iters}, ${result.threads} threads, libtorch ${result.torch})`);
    }
  } finally {
    for (const t of [...params, x, y]) t.dispose();
    setNumThreads(prevThreads);
  }
}
