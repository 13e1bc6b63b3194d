// The fused quantizer op against its tensor-op reference, forward + backward (noise variant), on
// ResNet-20-sized tensors: an activation 128×16×32×32 per tensor and a weight 64×64×3×3 per
// output channel. Prints one JSON line; the bandwidth counts the bytes the fused passes must
// move (forward: read x, write x̂; backward: read x and g, write dx).
import { Tensor, scope, manualSeed, getNumThreads } from '../src/engine';
import { fakeQuantize } from '../src/quant/fake-quant';
import { referenceFakeQuantize } from '../src/quant/reference';

export interface QuantizerBenchResult {
  name: 'quantizer';
  fused_ms: number;
  reference_ms: number;
  speedup: number;
  gbytes_per_s: number;
  threads: number;
}

interface Case { x: Tensor; lo: Tensor; hi: Tensor; sigma: Tensor; g: Tensor; axis: number | null }

function makeCase(shape: number[], axis: number | null): Case {
  const channels = axis === null ? 1 : shape[axis];
  const pshape = axis === null ? [] : [channels];
  const param = (v: number): Tensor => Tensor.full(pshape, v).requiresGrad_().keep();
  return {
    x: Tensor.randn(shape).requiresGrad_().keep(),
    lo: param(-2), hi: param(2), sigma: param(Math.log2(4 / 15)),  // 4 bits over [-2, 2]
    g: Tensor.randn(shape).keep(), axis,
  };
}

type Step = (c: Case) => void;

const fused: Step = (c) => scope(() => {
  fakeQuantize(c.x, c.lo, c.hi, c.sigma, { axis: c.axis, method: 'noise' }).backward(c.g);
});

const reference: Step = (c) => scope(() => {
  const signs = Tensor.where(Tensor.rand(c.x.shape).lt(0.5), 1, -1);
  referenceFakeQuantize(c.x, c.lo, c.hi, c.sigma, { axis: c.axis, signs }).backward(c.g);
});

// Median of per-iteration times (ms) of step over every case; grads are reset so each
// backward writes fresh buffers, as in training.
function time(step: Step, cases: Case[], iters: number): number {
  const run = (): void => {
    for (const c of cases) {
      step(c);
      for (const t of [c.x, c.lo, c.hi, c.sigma]) t.zeroGrad();
    }
  };
  run();
  const ms: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

export function benchQuantizer(o: { json?: boolean; iters?: number } = {}): QuantizerBenchResult {
  const iters = Math.max(1, o.iters ?? 10);
  manualSeed(0);
  const cases = [makeCase([128, 16, 32, 32], null), makeCase([64, 64, 3, 3], 0)];
  try {
    const fusedMs = time(fused, cases, iters);
    const referenceMs = time(reference, cases, iters);
    const bytes = cases.reduce((a, c) => a + 20 * c.x.numel, 0);
    const r: QuantizerBenchResult = {
      name: 'quantizer',
      fused_ms: round(fusedMs),
      reference_ms: round(referenceMs),
      speedup: round(referenceMs / fusedMs),
      gbytes_per_s: round(bytes / (fusedMs * 1e6)),
      threads: getNumThreads(),
    };
    console.log(o.json ? JSON.stringify(r) : formatText(r));
    return r;
  } finally {
    for (const c of cases) for (const t of [c.x, c.lo, c.hi, c.sigma, c.g]) t.dispose();
  }
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

function formatText(r: QuantizerBenchResult): string {
  return `quantizer fwd+bwd (act 128×16×32×32 per tensor + weight 64×64×3×3 per channel, ${r.threads} threads): ` +
    `fused ${r.fused_ms} ms, reference ${r.reference_ms} ms (${r.speedup}×), ${r.gbytes_per_s} GB/s`;
}

if (require.main === module) benchQuantizer({ json: process.argv.includes('--json') });
