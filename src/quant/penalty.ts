// The exterior-point penalty of GDNSQ.md §3: each bit-width above its target (less a slack ε)
// contributes max(0, B − (T − ε))^p; weights are averaged over all channels of all weight (and
// bias) quantizers, activations over all activation quantizers, and the two groups are weighted
// by their shares of active (positive) constraints.
import { Tensor } from '../engine';
import { Module } from '../nn';
import { quantizedLayers } from './qlayer';

export interface PenaltyOptions {
  /** Slack ε: a constraint is met at B ≤ T − ε (default 1e-3). */
  eps?: number;
  /** Power p of the violations (default 1). */
  p?: number;
  /**
   * The bit-width each quantizer is held to now, from its final target (default: the target
   * itself). The planned descent passes its trajectory here, so the penalty pushes only the
   * quantizers above the plan.
   */
  targetOf?: (target: number) => number;
}

export interface Penalty {
  /** P_w, P_a: mean violations (0-d). */
  pw: Tensor;
  pa: Tensor;
  /** k_w, k_a: numbers of active constraints (0-d, no gradient). */
  kw: Tensor;
  ka: Tensor;
  /** m_w = (k_w + ε)/(k_w + k_a + ε), m_a = (k_a + ε)/(k_w + k_a + ε). */
  mw: Tensor;
  ma: Tensor;
  /** m_w·P_w + m_a·P_a. */
  value: Tensor;
  /** max over every weight (activation) quantizer and channel of B − target, without slack (0-d, no gradient; −∞ with none). */
  lagW: Tensor;
  lagA: Tensor;
}

export function checkPenaltyOptions(o: PenaltyOptions): { eps: number; p: number } {
  const eps = o.eps ?? 1e-3, p = o.p ?? 1;
  if (!(eps > 0 && Number.isFinite(eps))) throw new Error(`penalty: eps must be a finite positive number, got ${eps}`);
  if (!(p >= 1 && Number.isFinite(p))) throw new Error(`penalty: power p must be a finite number ≥ 1, got ${p}`);
  return { eps, p };
}

/** Violations of one group, from its bit-widths and their targets (equal-length 1-d tensors). */
function group(bits: Tensor[], targets: Tensor[], eps: number, p: number): { mean: Tensor; active: Tensor; lag: Tensor } {
  if (!bits.length) return { mean: Tensor.scalar(0), active: Tensor.scalar(0), lag: Tensor.scalar(-Infinity) };
  const raw = Tensor.cat(bits).sub(Tensor.cat(targets));
  const excess = raw.add(eps).relu();
  return { mean: (p === 1 ? excess : excess.pow(p)).mean(), active: excess.detach().gt(0).sum().float(), lag: raw.detach().amax() };
}

/** The penalty of every active (enabled, not pruned) quantizer of a quantized model. */
export function bitPenalty(model: Module, o: PenaltyOptions = {}): Penalty {
  const { eps, p } = checkPenaltyOptions(o);
  const wBits: Tensor[] = [], wTargets: Tensor[] = [], aBits: Tensor[] = [], aTargets: Tensor[] = [];
  for (const [, l] of quantizedLayers(model)) {
    for (const [role, q] of l.quantizers()) {
      if (!q.active) continue;
      const b = role === 'act' ? q.bits() : q.bits(role === 'weight' ? l.weight : l.bias!);
      (role === 'act' ? aBits : wBits).push(b);
      (role === 'act' ? aTargets : wTargets).push(o.targetOf ? Tensor.full(b.shape, o.targetOf(q.targetBits)) : q.target_bits.reshape([1]).expand(b.shape));
    }
  }
  const w = group(wBits, wTargets, eps, p);
  const a = group(aBits, aTargets, eps, p);
  const total = w.active.add(a.active).add(eps);
  const mw = w.active.add(eps).div(total);
  const ma = a.active.add(eps).div(total);
  return { pw: w.mean, pa: a.mean, kw: w.active, ka: a.active, mw, ma, value: mw.mul(w.mean).add(ma.mul(a.mean)), lagW: w.lag, lagA: a.lag };
}
