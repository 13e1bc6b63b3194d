// The fused quantizer's math (quant/fake-quant.ts) as plain tensor ops with autograd: slow,
// but each line is a formula of GDNSQ.md §2. Tests compare the native op with it, forward bit
// for bit (same float ops in the same order).
import { Tensor } from '../engine/tensor';

/** 1/(2√3): a random sign times it has the variance of U(−½, ½), 1/12. */
export const NOISE_RHO = 1 / (2 * Math.sqrt(3));

export interface ReferenceOptions {
  axis: number | null;
  /** ±1 per element of x (noise variant); omitted: lsq (step gradient Σ g·e). */
  signs?: Tensor;
}

/** Per-channel parameter [C] (or [] / [1]) viewed so that it broadcasts against x. */
export function broadcastParam(p: Tensor, x: Tensor, axis: number | null): Tensor {
  if (axis === null) return p.reshape([]);
  const a = axis < 0 ? axis + x.ndim : axis;
  return p.reshape(x.shape.map((d, i) => (i === a ? d : 1)));
}

/** Sums t over every dim except axis: [C] (a one-element [1] per tensor). */
export function channelSum(t: Tensor, axis: number | null): Tensor {
  if (axis === null) return t.sum().reshape([1]);
  const a = axis < 0 ? axis + t.ndim : axis;
  const dims = t.shape.map((_, i) => i).filter((i) => i !== a);
  return dims.length ? t.sum(dims) : t.clone();
}

interface Parts { c: Tensor; v: Tensor; code: Tensor; e: Tensor; inside: Tensor; l: Tensor; h: Tensor; s: Tensor }

/** The forward quantities: c = clamp(x, lo, hi), v = (c − lo)/s, code = round(v), e = code − v. */
export function quantParts(x: Tensor, lo: Tensor, hi: Tensor, sigma: Tensor, axis: number | null): Parts {
  const l = broadcastParam(lo, x, axis);
  const h = broadcastParam(hi, x, axis);
  const s = broadcastParam(sigma.exp2(), x, axis);
  const c = x.clamp(l, h);
  const v = c.sub(l).div(s);
  const code = v.round();
  return { c, v, code, e: code.sub(v), inside: x.ge(l).logicalAnd(x.le(h)), l, h, s };
}

/**
 * Value: code·s + lo. Gradient: that of the surrogate c + s·e with e frozen, plus s̄·ρ·s for the
 * noise variant (∂e/∂s := ρ, s̄ = s without gradient), i.e. dx = g inside, dlo = Σ g below,
 * dhi = Σ g above, ds = Σ g·(e + s·ρ) — the noise-scale STE.
 */
export function referenceFakeQuantize(x: Tensor, lo: Tensor, hi: Tensor, sigma: Tensor, o: ReferenceOptions): Tensor {
  const { c, code, e, l, s } = quantParts(x, lo, hi, sigma, o.axis);
  const value = code.mul(s).add(l).detach();
  let surrogate = c.add(s.mul(e.detach()));
  if (o.signs) surrogate = surrogate.add(s.detach().mul(o.signs.mul(NOISE_RHO)).mul(s));
  return value.add(surrogate.sub(surrogate.detach()));
}

/** The EWGS input-gradient factor floor (the reference clamps δ·sign(g)·e at 1 − 0.01). */
export const EWGS_FACTOR_FLOOR = 0.01;
/** The floor of var(e) in the aewgs δ (the reference's eps). */
export const AEWGS_VAR_FLOOR = 1e-3;

/**
 * The input gradient for upstream g: g inside [lo, hi] (noise, lsq); ewgs and aewgs:
 * g·max(1 − δ·sign(g)·e, 0.01) inside, with δ fixed (ewgs) or, for aewgs, per channel
 * δ = mean(sign(g)·e) / max(var(e), 1e-3) over the inside elements (0 when there are none),
 * not clamped — the authors' formulas (GDNSQ.md §8).
 */
export function referenceInputGrad(x: Tensor, lo: Tensor, hi: Tensor, sigma: Tensor, g: Tensor,
  o: { axis: number | null; method: 'noise' | 'lsq' | 'ewgs' | 'aewgs'; delta?: number }): Tensor {
  const { e, inside } = quantParts(x.detach(), lo.detach(), hi.detach(), sigma.detach(), o.axis);
  if (o.method === 'noise' || o.method === 'lsq') return Tensor.where(inside, g, 0);
  let delta: Tensor;
  if (o.method === 'ewgs') {
    delta = Tensor.full([lo.numel], o.delta ?? 0.01, 'float64');
  } else {
    const sum = (t: Tensor): Tensor => channelSum(Tensor.where(inside, t.to('float64'), 0), o.axis);
    const n = sum(Tensor.ones(x.shape, 'float64'));
    const mean = sum(e).div(n);
    const variance = sum(e.square()).div(n).sub(mean.square());
    delta = Tensor.where(n.gt(0), sum(g.sign().mul(e)).div(n).div(variance.clamp(AEWGS_VAR_FLOOR)), 0);
  }
  const d = broadcastParam(delta.to(x.dtype), x, o.axis);
  const factor = d.mul(g.sign()).mul(e).rsub(1).clamp(EWGS_FACTOR_FLOOR);
  return Tensor.where(inside, g.mul(factor), 0);
}
