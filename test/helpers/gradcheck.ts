// Test helpers: a finite-difference gradient check (float64) and a resident-memory probe.
import { AssertionError } from 'node:assert';
import { Tensor, scope, noGrad } from '../../src/engine';

export interface GradcheckOptions { eps?: number; atol?: number; rtol?: number }

// A fixed projection (its own PRNG, so the check never disturbs libtorch's global generator):
// weighting the output by it makes every output element matter to the checked scalar.
function projection(n: number): Float64Array {
  let s = 0x9e3779b9;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

function multiIndex(flat: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

/**
 * Checks the autograd gradient of sum(fn(inputs) * R), R a fixed random tensor, against central
 * finite differences for every input that requires grad (those must be float64). Inputs that do
 * not require grad (targets, indices) are passed through untouched. Throws an AssertionError
 * naming the input index and its worst element.
 */
export function gradcheck(fn: (inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const checked = inputs.map((t, i) => ({ t, i })).filter(({ t }) => t.requiresGrad);
  if (!checked.length) throw new Error('gradcheck: no input requires grad');
  for (const { t, i } of checked) {
    if (t.dtype !== 'float64') throw new Error(`gradcheck: input ${i} is ${t.dtype}; finite differences need float64`);
  }

  let proj: Float64Array | null = null;
  const objective = (): Tensor => {
    const out = fn(inputs);
    proj ??= projection(out.numel);
    return out.mul(Tensor.from(proj, out.shape, 'float64')).sum();
  };

  for (const { t } of checked) t.zeroGrad();
  const analytic = scope(() => {
    objective().backward();
    return checked.map(({ t }) => {
      const g = t.grad;
      return g ? (g.data() as Float64Array) : new Float64Array(t.numel);
    });
  });
  for (const { t } of checked) t.zeroGrad();

  const value = (): number => noGrad(() => scope(() => objective().item()));
  checked.forEach(({ t, i }, k) => {
    const shape = t.shape;
    const base = t.data() as Float64Array;
    const probe = Float64Array.from(base);
    const set = (arr: Float64Array): void => noGrad(() => scope(() => { t.copy_(Tensor.from(arr, shape, 'float64')); }));
    let worst = { j: -1, excess: 0, a: 0, n: 0 };
    try {
      for (let j = 0; j < base.length; j++) {
        probe[j] = base[j] + eps;
        set(probe);
        const up = value();
        probe[j] = base[j] - eps;
        set(probe);
        const down = value();
        probe[j] = base[j];
        const n = (up - down) / (2 * eps);
        const a = analytic[k][j];
        const excess = Math.abs(a - n) - (atol + rtol * Math.abs(n));
        if (!(excess <= 0) && (worst.j < 0 || !(excess <= worst.excess))) worst = { j, excess, a, n };
      }
    } finally {
      set(base);
    }
    if (worst.j >= 0) {
      throw new AssertionError({
        message: `gradcheck: input ${i} element ${worst.j} [${multiIndex(worst.j, shape).join(', ')}]: ` +
          `autograd ${worst.a} vs finite difference ${worst.n} (atol ${atol}, rtol ${rtol})`,
        actual: worst.a,
        expected: worst.n,
        operator: 'gradcheck',
      });
    }
  });
}

/** Resident set size of this process, in bytes. */
export function rss(): number {
  return process.memoryUsage().rss;
}
