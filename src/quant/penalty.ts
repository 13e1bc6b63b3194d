// The exterior-point penalty of GDNSQ.md §3: each bit-width above its target (less a slack ε)
// contributes max(0, B − (T − ε))^p; weights are averaged over all channels of all weight (and
// bias) quantizers, activations over all activation quantizers, and the two groups are weighted
// by their shares of active (positive) constraints.
import { Tensor } from '../engine';
import { Module } from '../nn';
import { quantizedLayers } from './qlayer';
import { MeanBudget, budgeted, checkMeanBudget } from './mean-budget';
import { reachBits } from './descent-plan';

/**
 * A size budget (mean-budget.ts) on one or both groups: their penalty is one constraint on the
 * size-weighted mean of the bits, max(0, Σ n·B / Σ n − (T − offset − ε))^p, plus each
 * channel's cap max(0, B − (cap − ε))^p; every bit-width of the group is free below the cap.
 */
export interface BudgetPenalty {
  budget: MeanBudget;
  /** Size of each quantizer by name (quantizerSizes()). */
  sizes: Record<string, number>;
  /** How far below the (planned) budget the smooth mean is held, per group (BudgetTracker), in bits. */
  offsetW?: number;
  offsetA?: number;
}

export interface PenaltyOptions {
  /** Slack ε: a constraint is met at B ≤ T − ε (default 1e-3). */
  eps?: number;
  /** Power p of the violations (default 1). */
  p?: number;
  /**
   * The bit-width each quantizer is held to now, from its final target (default: the target
   * itself). The planned descent passes its trajectory here, so the penalty pushes only the
   * quantizers above the plan; `layer` is the quantized layer's index in network order, of
   * `layers` (a staggered plan ends the layers' descents one after the other).
   */
  targetOf?: (target: number, layer: number, layers: number) => number;
  /** Hold the groups it names to a mean bit-width instead of each quantizer to its target. */
  budget?: BudgetPenalty;
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
  /** Per quantized layer (network order), the max of B − target over its quantizers ([layers], no gradient; −∞: none constrained). */
  layerLags: Tensor;
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

/**
 * A budgeted group: `bits` per quantizer (1-d, one per channel) with the quantizer's size; the
 * mean constraint and the caps count as constraints alike for the active count.
 */
function budgetGroup(bits: Tensor[], sizes: number[], target: number, cap: number, eps: number, p: number): { mean: Tensor; active: Tensor; lag: Tensor } {
  if (!bits.length) return { mean: Tensor.scalar(0), active: Tensor.scalar(0), lag: Tensor.scalar(-Infinity) };
  const total = sizes.reduce((s, n) => s + n, 0);
  let weighted = bits[0].mean().mul(sizes[0] / total);
  for (let i = 1; i < bits.length; i++) weighted = weighted.add(bits[i].mean().mul(sizes[i] / total));
  const meanRaw = weighted.sub(target);
  const meanExcess = meanRaw.add(eps).relu();
  const all = Tensor.cat(bits);
  const capRaw = all.sub(cap);
  const capExcess = capRaw.add(eps).relu();
  const pow = (t: Tensor): Tensor => (p === 1 ? t : t.pow(p));
  return {
    mean: pow(meanExcess).add(pow(capExcess).mean()),
    active: meanExcess.detach().gt(0).float().add(capExcess.detach().gt(0).sum().float()),
    lag: Tensor.stack([meanRaw.detach().reshape([]), capRaw.detach().amax()]).amax(),
  };
}

/** The penalty of every active (enabled, not pruned) quantizer of a quantized model. */
export function bitPenalty(model: Module, o: PenaltyOptions = {}): Penalty {
  const { eps, p } = checkPenaltyOptions(o);
  const budget = o.budget ? checkMeanBudget(o.budget.budget, 'penalty budget') : undefined;
  const layers = quantizedLayers(model);
  // A budget's mean constraint follows the plan of the last layer (the longest descent), and is
  // the budget itself once that plan has ended (a per-layer plan then holds just below the
  // convergence threshold, which a mean must not exceed).
  const plan = (t: number): number => {
    const p = o.targetOf ? o.targetOf(t, layers.length - 1, layers.length) : t;
    return p <= reachBits(t) + 1e-9 ? t : p;
  };
  const wBits: Tensor[] = [], wTargets: Tensor[] = [], aBits: Tensor[] = [], aTargets: Tensor[] = [];
  const wSizes: number[] = [], aSizes: number[] = [];
  const layerLag: Tensor[] = [];
  for (const [rank, [layer, l]] of layers.entries()) {
    let lag: Tensor | null = null;
    for (const [role, q] of l.quantizers()) {
      if (!q.active) continue;
      const b = role === 'act' ? q.bits() : q.bits(role === 'weight' ? l.weight : l.bias!);
      (role === 'act' ? aBits : wBits).push(b);
      if (budgeted(budget, role === 'act' ? 'a' : 'w')) {
        const n = o.budget!.sizes[`${layer}.${role}_quant`];
        if (!(n > 0)) throw new Error(`penalty: the budget has no size for ${layer}.${role}_quant`);
        (role === 'act' ? aSizes : wSizes).push(n);
        continue;
      }
      const t = o.targetOf ? Tensor.full(b.shape, o.targetOf(q.targetBits, rank, layers.length)) : q.target_bits.reshape([1]).expand(b.shape);
      (role === 'act' ? aTargets : wTargets).push(t);
      const m = b.detach().sub(t).amax();
      lag = lag ? lag.maximum(m) : m;
    }
    layerLag.push(lag ? lag.reshape([1]) : Tensor.full([1], -Infinity));
  }
  const side = (g: 'w' | 'a', bits: Tensor[], targets: Tensor[], sizes: number[]): { mean: Tensor; active: Tensor; lag: Tensor } => {
    if (!budgeted(budget, g)) return group(bits, targets, eps, p);
    const offset = (g === 'w' ? o.budget!.offsetW : o.budget!.offsetA) ?? 0;
    const target = plan(budget![g === 'w' ? 'wBits' : 'aBits']!) - offset;
    return budgetGroup(bits, sizes, target, plan(budget!.maxBits), eps, p);
  };
  const w = side('w', wBits, wTargets, wSizes);
  const a = side('a', aBits, aTargets, aSizes);
  const total = w.active.add(a.active).add(eps);
  const mw = w.active.add(eps).div(total);
  const ma = a.active.add(eps).div(total);
  return { pw: w.mean, pa: a.mean, kw: w.active, ka: a.active, mw, ma, value: mw.mul(w.mean).add(ma.mul(a.mean)), lagW: w.lag, lagA: a.lag,
    layerLags: layerLag.length ? Tensor.cat(layerLag) : Tensor.zeros([0]) };
}
