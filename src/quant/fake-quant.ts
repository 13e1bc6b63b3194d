// The fused GDNSQ quantizer op (GDNSQ.md §2): one native forward pass and one native backward
// pass per call, with the noise-scale STE as a libtorch autograd function. The same math as
// plain tensor ops, for reading and for tests, is in quant/reference.ts.
import { native } from '../engine/native';
import { Tensor } from '../engine/tensor';

/**
 * How the step gets its gradient (the forward pass is the same for all):
 * - `noise`: ∂L/∂s = Σ g·(e + s·ρ), ρ = ±1/(2√3) with a fresh random sign per element and call
 *   (the published method);
 * - `lsq`: ∂L/∂s = Σ g·e, the true rounding error;
 * - `ewgs`: the noise step gradient, and the input gradient inside [lo, hi] becomes
 *   g·max(1 − δ·sign(g)·e, 0.01) = g − δ·|g|·e above the floor (EWGS, Lee et al. 2021);
 * - `aewgs`: ewgs with δ per channel = mean(sign(g)·e) / max(var(e), 1e-3) over the inside
 *   elements, not clamped (the factor's floor keeps the gradient's sign).
 * ewgs/aewgs keep the noise step gradient as the authors' code does (GDNSQ.md §8); in
 * evaluation (`training: false`) every method's step gradient is the lsq form Σ g·e.
 */
export type QuantMethod = 'noise' | 'lsq' | 'ewgs' | 'aewgs';
export const QUANT_METHODS: readonly QuantMethod[] = ['noise', 'lsq', 'ewgs', 'aewgs'];

export interface FakeQuantOptions {
  /** Channel axis of x for per-channel lo/hi/sigma of shape [C]; null: per tensor ([] or [1]). */
  axis: number | null;
  method: QuantMethod;
  /** EWGS δ (ewgs only); default 0.01. */
  delta?: number;
  /**
   * Default true. false replaces the noise variant's random step gradient by its expectation
   * (the lsq form), so evaluation draws no random numbers; the forward pass is unchanged.
   */
  training?: boolean;
  /** @internal Run the tensor-op (ATen) path even where the CPU kernels apply; for tests. */
  forceAten?: boolean;
}

export const DEFAULT_EWGS_DELTA = 0.01;

/**
 * x̂ = round((clamp(x, lo, hi) − lo) / s) · s + lo with s = 2^sigma, rounding half to even, in
 * training and in evaluation. x: float32 (or float64) of any shape; lo, hi, sigma: [C] along
 * `axis`, or [] / [1] per tensor; they may be computed from other parameters (e.g.
 * hi = b + 2^λ − 2^σ), gradients reach them through autograd. Gradients:
 * dx = g inside [lo, hi] and 0 outside; dlo = Σ g below lo; dhi = Σ g above hi;
 * dσ = (step gradient of `method`) · s · ln 2, summed per channel.
 */
export function fakeQuantize(x: Tensor, lo: Tensor, hi: Tensor, sigma: Tensor, opts: FakeQuantOptions): Tensor {
  if (!QUANT_METHODS.includes(opts.method)) {
    throw new Error(`fakeQuantize: unknown method '${String(opts.method)}' (${QUANT_METHODS.join(', ')})`);
  }
  if (opts.axis !== null && !Number.isInteger(opts.axis)) {
    throw new Error(`fakeQuantize: axis must be an integer or null, got ${String(opts.axis)}`);
  }
  return new Tensor(native.fakeQuantize(x.handle, lo.handle, hi.handle, sigma.handle, opts.axis, opts.method,
    opts.delta ?? DEFAULT_EWGS_DELTA, opts.training ?? true, opts.forceAten ?? false));
}
