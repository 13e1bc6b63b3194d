// The fine-tuning's side of a mean bit-width budget (quant/mean-budget.ts), kept out of
// finetune.ts: the quantizers' sizes, the convergence test (the budget's when one is set), the
// offset tracker that feeds the penalty, the integer allocation written into the checkpoint
// at each epoch end, and the size-weighted mean bits every run reports (budget or not).
import { Module } from '../nn';
import {
  GdnsqObjective, MeanBudget, BudgetTracker, QuantizerBits, BitsSummary, checkBudget, allocateBits, quantizerSizes, weightedMeans, checkMeanBudget,
} from '../quant';
import { round } from './provenance';

export interface MeanBits {
  /** Size-weighted mean of the integer widths ceil(true bits): weights by parameters, activations by input elements per sample (32: no quantizer in the group). */
  w: number;
  a: number;
  /** The budget the run was held to (null: per-layer targets). */
  budget: MeanBudget | null;
}

export interface BudgetRun {
  actElements: Record<string, number>;
  /** The budget values, for the plan's lowest target (empty without a budget). */
  budgetTargets: number[];
  converged(bits: QuantizerBits[], sum: BitsSummary): boolean;
  /** Feeds a measurement to the offset tracker (budget runs), with the planned bits for a target. */
  track(bits: QuantizerBits[], planFor: (target: number) => number): void;
  /** Sets the budgeted quantizers' targets to their integer widths; returns `bits` for chaining. */
  allocate(bits: QuantizerBits[]): QuantizerBits[];
  means(bits: QuantizerBits[]): MeanBits;
  /** Fields for a metrics record: the means (and the offsets of a budget run). */
  record(bits: QuantizerBits[]): Record<string, number>;
  state(): unknown;
  loadState(s: unknown): void;
}

export function budgetRun(student: Module, actElements: Record<string, number>, budget: MeanBudget | undefined, objective: GdnsqObjective): BudgetRun {
  const sizes = quantizerSizes(student, actElements);
  const b = budget ? checkMeanBudget(budget) : null;
  const tracker = new BudgetTracker();
  const sync = (): void => {
    if (b) objective.budget = { budget: b, sizes, offsetW: tracker.offsetW, offsetA: tracker.offsetA };
  };
  sync();
  const means = (bits: QuantizerBits[]): MeanBits => {
    const m = weightedMeans(bits, sizes);
    return { w: round(m.w.mean, 4), a: round(m.a.mean, 4), budget: b };
  };
  return {
    actElements,
    budgetTargets: b ? [b.wBits, b.aBits].filter((x): x is number => x !== undefined) : [],
    converged: (bits, sum) => (b ? checkBudget(bits, sizes, b).met : sum.converged),
    track: (bits, planFor) => {
      if (!b) return;
      tracker.update(bits, sizes, { w: b.wBits === undefined ? 0 : planFor(b.wBits), a: b.aBits === undefined ? 0 : planFor(b.aBits) });
      sync();
    },
    allocate: (bits) => {
      if (b) allocateBits(student, bits, b);
      return bits;
    },
    means,
    record: (bits) => {
      const m = means(bits);
      return { w_mean: m.w, a_mean: m.a, ...(b ? { offset_w: round(tracker.offsetW, 3), offset_a: round(tracker.offsetA, 3) } : {}) };
    },
    state: () => tracker.state(),
    loadState: (s) => {
      if (s !== undefined && s !== null) tracker.loadState(s);
      sync();
    },
  };
}
