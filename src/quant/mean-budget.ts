// A size budget instead of a bit-width per layer (`gdnsq quantize --avg-wbits 2 --avg-abits 2`):
// the parameter-weighted mean bit-width of the weights and the element-weighted mean of the
// activations (elements = the quantizer's input size per sample, measured at calibration) are
// held to the budget, each quantizer's own bit-width is free below a cap (8 bits by default,
// so the packed format still holds every layer). Layers whose accuracy needs bits keep them,
// paid for by layers that do not.
//
// What is budgeted is the deployable cost: every quantizer at its integer width ceil(true bits)
// (weights: the widest channel's codes; activations: the codes the convergence check sees),
// weighted by its size. The penalty acts on the differentiable bits B (penalty.ts), whose
// weighted mean differs from that cost by the rounding and by the spread of the channels within
// a layer; the tracker below measures the cost and moves the penalty's target by what it
// exceeds the plan, so the cost, not the smooth mean, follows the plan. The guarantee is the convergence test: a
// checkpoint counts as converged only when the measured cost is within the budget (and every
// quantizer within the cap), and only converged checkpoints are selected.
import { Module } from '../nn';
import { FP_BITS, checkBits } from './quantizer';
import { QuantizerBits } from './bits';
import { quantizedLayers } from './qlayer';

export interface MeanBudget {
  /** Budget of the parameter-weighted mean weight bit-width (absent: per-layer targets). */
  wBits?: number;
  /** Budget of the element-weighted mean activation bit-width. */
  aBits?: number;
  /** Upper bound of every budgeted quantizer's bit-width (default 8: the packed format's widest code). */
  maxBits?: number;
}

export const DEFAULT_MAX_BITS = 8;

export function checkMeanBudget(b: MeanBudget, where = 'budget'): Required<Pick<MeanBudget, 'maxBits'>> & MeanBudget {
  if (!b || typeof b !== 'object') throw new Error(`${where} must be an object {wBits?, aBits?, maxBits?}`);
  const unknown = Object.keys(b).filter((k) => !['wBits', 'aBits', 'maxBits'].includes(k));
  if (unknown.length) throw new Error(`${where}: unknown field '${unknown[0]}' (wBits, aBits, maxBits)`);
  if (b.wBits === undefined && b.aBits === undefined) throw new Error(`${where}: give wBits, aBits or both`);
  const maxBits = checkBits(b.maxBits ?? DEFAULT_MAX_BITS, `${where}.maxBits`);
  if (maxBits > DEFAULT_MAX_BITS) throw new Error(`${where}.maxBits must be at most ${DEFAULT_MAX_BITS} (the packed format's widest code), got ${maxBits}`);
  for (const k of ['wBits', 'aBits'] as const) {
    const v = b[k];
    if (v === undefined) continue;
    checkBits(v, `${where}.${k}`);
    if (v > maxBits) throw new Error(`${where}.${k} (${v}) must not exceed maxBits (${maxBits})`);
  }
  return { ...b, maxBits };
}

export type BudgetGroup = 'w' | 'a';
export const groupOf = (role: QuantizerBits['role']): BudgetGroup => (role === 'act' ? 'a' : 'w');

/**
 * The size of every quantizer of a quantized model, by quantizer name (`layer.weight_quant`):
 * weights and biases their element count, activations `actElements[layer]` (their input's size
 * per sample); an activation quantizer without a count is an error.
 */
export function quantizerSizes(model: Module, actElements: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [layer, l] of quantizedLayers(model)) {
    for (const [role, q] of l.quantizers()) {
      if (!q.enabled) continue;
      if (role === 'act') {
        const n = actElements[layer];
        if (!(typeof n === 'number' && n > 0)) throw new Error(`mean budget: no activation size for '${layer}' (calibrate the model first)`);
        out[`${layer}.act_quant`] = n;
      } else {
        out[`${layer}.${role}_quant`] = (role === 'weight' ? l.weight : l.bias!).numel;
      }
    }
  }
  return out;
}

/** A quantizer's deployable width: ceil of its true bits (a pruned one needs none). */
export const integerBits = (e: QuantizerBits): number => (e.pruned ? 0 : Math.ceil(e.trueBits - 1e-9));

export interface GroupMean {
  /** Size-weighted mean of the integer widths (the cost the budget bounds). */
  mean: number;
  /** Size-weighted mean of the differentiable bits (what the penalty sees). */
  smooth: number;
  /** Total size (parameters or elements per sample). */
  size: number;
  count: number;
}

/** Size-weighted means of each group; a group without quantizers has mean FP_BITS and size 0. */
export function weightedMeans(bits: QuantizerBits[], sizes: Record<string, number>): Record<BudgetGroup, GroupMean> {
  const acc = { w: { m: 0, s: 0, n: 0, c: 0 }, a: { m: 0, s: 0, n: 0, c: 0 } };
  for (const e of bits) {
    const n = sizes[e.name];
    if (n === undefined) throw new Error(`mean budget: no size for quantizer '${e.name}'`);
    const g = acc[groupOf(e.role)];
    g.m += n * integerBits(e);
    g.s += n * (e.pruned ? 0 : e.bits);
    g.n += n;
    g.c++;
  }
  const fin = (g: typeof acc.w): GroupMean => (g.n > 0 ? { mean: g.m / g.n, smooth: g.s / g.n, size: g.n, count: g.c } : { mean: FP_BITS, smooth: FP_BITS, size: 0, count: 0 });
  return { w: fin(acc.w), a: fin(acc.a) };
}

export interface BudgetCheck {
  /** Achieved size-weighted means of the integer widths. */
  wMean: number;
  aMean: number;
  /** Within the budget and within the cap (budgeted groups), every quantizer within its target (the others). */
  met: boolean;
  detail: string;
}

const TOL = 1e-9;

/** The convergence test under a budget. */
export function checkBudget(bits: QuantizerBits[], sizes: Record<string, number>, budget: MeanBudget): BudgetCheck {
  const b = checkMeanBudget(budget);
  const m = weightedMeans(bits, sizes);
  const problems: string[] = [];
  for (const e of bits) {
    const limit = b[groupOf(e.role) === 'w' ? 'wBits' : 'aBits'] !== undefined ? b.maxBits : e.target;
    if (e.trueBits > limit + TOL) problems.push(`${e.name} ${e.trueBits.toFixed(2)} > ${limit}`);
  }
  for (const [g, k] of [['w', 'wBits'], ['a', 'aBits']] as const) {
    const want = b[k];
    if (want !== undefined && m[g].size > 0 && m[g].mean > want + TOL) problems.push(`${g === 'w' ? 'weights' : 'activations'} mean ${m[g].mean.toFixed(3)} > ${want}`);
  }
  return { wMean: m.w.mean, aMean: m.a.mean, met: problems.length === 0, detail: problems.join(', ') };
}

/**
 * Sets every budgeted quantizer's target to its integer width (within the cap), so the saved
 * checkpoint carries the per-layer allocation: grid checks, exports and `gdnsq info` then see
 * ordinary per-layer targets.
 */
export function allocateBits(model: Module, bits: QuantizerBits[], budget: MeanBudget): void {
  const b = checkMeanBudget(budget);
  const by = new Map(bits.map((e) => [e.name, e]));
  for (const [layer, l] of quantizedLayers(model)) {
    for (const [role, q] of l.quantizers()) {
      const e = by.get(`${layer}.${role}_quant`);
      if (!e || e.pruned || !q.enabled || b[groupOf(role) === 'w' ? 'wBits' : 'aBits'] === undefined) continue;
      q.targetBits = Math.min(b.maxBits, Math.max(1, integerBits(e)));
    }
  }
}

export interface BudgetTrackerState { w: number; a: number }

/**
 * The penalty's target for a budgeted group's smooth mean, as an offset below the plan: at each
 * measurement, with integer cost C, smooth mean S and planned value P, offset = max(C, P) − S.
 * While the cost is above the plan (C > P) the target is S − (C − P): the smooth mean is pushed
 * down by as much as the cost exceeds the plan, whatever the rounding and the channel spread
 * make of the difference between them. Once the cost meets the plan the target is S itself: the
 * bits may not rise, and they are pushed no further (the cost is a staircase, a target below it
 * would push a layer a whole bit down). The target then moves with the plan until the next
 * measurement.
 */
export class BudgetTracker {
  private s: BudgetTrackerState = { w: 0, a: 0 };

  get offsetW(): number { return this.s.w; }
  get offsetA(): number { return this.s.a; }

  /** One measurement of the model's bits, with the planned values of the budgets now. */
  update(bits: QuantizerBits[], sizes: Record<string, number>, plan: { w: number; a: number }): void {
    const m = weightedMeans(bits, sizes);
    for (const g of ['w', 'a'] as const) if (m[g].size > 0) this.s[g] = Math.max(m[g].mean, plan[g]) - m[g].smooth;
  }

  state(): BudgetTrackerState { return { ...this.s }; }

  loadState(x: unknown): void {
    const st = x as BudgetTrackerState | null;
    if (!st || typeof st.w !== 'number' || typeof st.a !== 'number') throw new Error('BudgetTracker.loadState: expected {w, a} numbers');
    this.s = { w: st.w, a: st.a };
  }
}

/** True when a budget constrains this target (a group set to FP is not budgeted). */
export const budgeted = (budget: MeanBudget | undefined, g: BudgetGroup): boolean => budget?.[g === 'w' ? 'wBits' : 'aBits'] !== undefined && (budget[g === 'w' ? 'wBits' : 'aBits'] as number) < FP_BITS;
