// The budget-planned descent (our default schedule; the reference's fixed temperature growth is
// schedule 'kappa'). A run of totalSteps is split into warm-up (LR ramp, no penalty), descent
// (every quantizer's bit-width follows a planned trajectory from the start bits to its target,
// reached at `descent`·totalSteps) and recovery (target held, LR annealed). The controller
// (descent-controller.ts) steers the penalty temperature so the measured bits follow the plan.
export type DescentShape = 'linear' | 'ease-out';
export const DESCENT_SHAPES: readonly DescentShape[] = ['linear', 'ease-out'];

export interface DescentPlanOptions {
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** Every quantizer's bit-width after calibration. */
  startBits: number;
  /** The lowest target bit-width of any quantizer (it needs the longest descent). */
  minTarget: number;
  /** Warm-up steps; default 5% of the run. */
  warmupSteps?: number;
  /** Fraction of the run by whose end the targets are reached (default 0.4). */
  descent?: number;
  /**
   * Trajectory between start and target (default 'ease-out'): 'linear' spends equal steps per
   * bit; 'ease-out' (quadratic) passes the harmless high bit-widths quickly and spends most of
   * the descent on the last bits, where the network has to adapt.
   */
  shape?: DescentShape;
  /** The fastest mean descent the plan may ask for, in bits per step (default 0.1). */
  maxRate?: number;
  /** Least share of the run left for recovery (default 0.2). */
  minRecovery?: number;
  /**
   * Share of the descent by which the first quantized layer reaches its target before the last
   * (default 0.3; 0: all at descentEnd). Layers finish in network order, front to back, so the
   * last crossings come one layer at a time and each layer's successors adapt to it, instead
   * of every quantizer losing its last-but-one level at the same step. A budget too short for
   * it staggers less (the plan's `stagger` says how much).
   */
  stagger?: number;
}

export interface DescentPlan {
  totalSteps: number;
  warmupSteps: number;
  /** The step by which every target is reached (the descent covers steps warmupSteps+1..descentEnd). */
  descentEnd: number;
  recoverySteps: number;
  startBits: number;
  shape: DescentShape;
  /** See DescentPlanOptions.stagger. */
  stagger: number;
}

/** A budget that cannot reach the target: the message says what to change. */
export class BudgetError extends Error {}

export function planDescent(o: DescentPlanOptions): DescentPlan {
  const total = o.totalSteps, descent = o.descent ?? 0.4, shape = o.shape ?? 'ease-out';
  const maxRate = o.maxRate ?? 0.1, minRecovery = o.minRecovery ?? 0.2, stagger = o.stagger ?? 0.3;
  if (!(stagger >= 0 && stagger < 1)) throw new Error(`planDescent: stagger must be a fraction in [0, 1), got ${stagger}`);
  if (!(Number.isInteger(total) && total > 0)) throw new Error(`planDescent: totalSteps must be a positive integer, got ${total}`);
  if (!(descent > 0 && descent < 1)) throw new Error(`planDescent: descent must be a fraction in (0, 1), got ${descent}`);
  if (!DESCENT_SHAPES.includes(shape)) throw new Error(`planDescent: unknown shape '${String(shape)}' (${DESCENT_SHAPES.join(', ')})`);
  if (!(o.minTarget > 0 && o.startBits > 0)) throw new Error(`planDescent: startBits and minTarget must be positive, got ${o.startBits}, ${o.minTarget}`);
  const warmup = o.warmupSteps ?? Math.round(0.05 * total);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`planDescent: warmupSteps must be an integer ≥ 0, got ${warmup}`);
  const end = Math.round(descent * total);
  const bits = Math.max(0, o.startBits - o.minTarget);
  const needed = Math.ceil(bits / maxRate);
  if (end - warmup < needed) {
    const minTotal = Math.ceil((needed + warmup) / descent);
    throw new BudgetError(`budget too short: the descent from ${o.startBits} to ${o.minTarget} bits needs at least ${needed} steps ` +
      `(≤ ${maxRate} bits per step), this run has ${Math.max(0, end - warmup)} (steps ${warmup + 1}–${end} of ${total}); ` +
      `give about ${minTotal} steps or more (more epochs, a smaller batch), a later --descent or fewer --warmup-steps`);
  }
  if (total - end < minRecovery * total) {
    throw new BudgetError(`descent ${descent} leaves ${total - end} of ${total} steps to recover, under the ${minRecovery * 100}% minimum: choose --descent ≤ ${1 - minRecovery}`);
  }
  // The first layer's descent is the shortest, (1 − stagger) of the whole: a short budget
  // staggers less rather than ask any layer for more than maxRate.
  const fit = Math.max(0, Math.min(stagger, 1 - needed / Math.max(1, end - warmup)));
  return { totalSteps: total, warmupSteps: warmup, descentEnd: end, recoverySteps: total - end, startBits: o.startBits, shape, stagger: Math.floor(fit * 1000) / 1000 };
}

/** The step by which quantized layer `rank` (0-based, network order) of `count` reaches its target. */
export function layerEnd(plan: DescentPlan, rank: number, count: number): number {
  if (count <= 1 || !plan.stagger) return plan.descentEnd;
  const len = plan.descentEnd - plan.warmupSteps;
  const r = Math.min(Math.max(rank, 0), count - 1);
  return Math.round(plan.descentEnd - plan.stagger * len * ((count - 1 - r) / (count - 1)));
}

/**
 * The differentiable bit-width below which a quantizer's true bit-width meets `target`: its
 * level count round(2^B − 1) + 1 is at most ⌊2^T⌋ once B < log2(⌊2^T⌋ + ½) (weights and
 * activations alike). T = 2 → 2.17, T = 1 → 1.32, T = 4 → 4.04.
 */
export function convergenceBits(target: number): number {
  return Math.log2(Math.floor(2 ** target + 1e-9) + 0.5);
}

// The descent aims this far below convergenceBits so the target is met at descentEnd, not later.
const REACH_MARGIN = 0.05;

/** Where a planned descent to `target` ends and stays: just below convergenceBits(target). */
export function reachBits(target: number): number {
  return convergenceBits(target) - REACH_MARGIN;
}

/**
 * The planned bit-width of a quantizer with target `target` at descent clock `clock` (= the
 * step, less any steps the controller held the plan): start bits through the warm-up, then
 * down to just below convergenceBits(target) by `endStep` (the layer's end; the true bits meet
 * the target there), where it stays through the recovery. Holding the penalty to T itself
 * instead (T = 1: B < 1, while 2 levels hold for B in [0.585, 1.32)) kept a 1-bit layer's
 * penalty hot all through the recovery, pushing its step up (and so its threshold, the one
 * thing a 1-bit grid has) against the floor of Quantizer.project().
 */
export function plannedBits(plan: DescentPlan, clock: number, target: number, endStep: number = plan.descentEnd): number {
  if (target >= plan.startBits) return target;
  const len = endStep - plan.warmupSteps;
  const end = Math.min(plan.startBits, reachBits(target));
  if (clock >= endStep) return end;
  const u = len > 0 ? Math.min(1, Math.max(0, (clock - plan.warmupSteps) / len)) : 1;
  const left = plan.shape === 'linear' ? 1 - u : (1 - u) ** 2;
  return end + (plan.startBits - end) * left;
}

/** How fast plannedBits falls at `clock`, in bits per step (0 outside the descent). */
export function plannedRate(plan: DescentPlan, clock: number, target: number, endStep: number = plan.descentEnd): number {
  const len = endStep - plan.warmupSteps;
  if (target >= plan.startBits || len <= 0 || clock < plan.warmupSteps || clock >= endStep) return 0;
  const u = (clock - plan.warmupSteps) / len;
  const span = plan.startBits - Math.min(plan.startBits, convergenceBits(target) - REACH_MARGIN);
  return (span * (plan.shape === 'linear' ? 1 : 2 * (1 - u))) / len;
}

/** One line per phase, with epochs where the run has them. */
export function describePlan(plan: DescentPlan, stepsPerEpoch: number, targets: string): string {
  const ep = (s: number): string => (stepsPerEpoch > 0 ? ` (epoch ${(s / stepsPerEpoch).toFixed(1)})` : '');
  return [
    `plan: ${plan.totalSteps} steps (${(plan.totalSteps / stepsPerEpoch).toFixed(1)} epochs × ${stepsPerEpoch} steps)`,
    `  warm-up   steps 1–${plan.warmupSteps}: LR ramp, no penalty`,
    `  descent   steps ${plan.warmupSteps + 1}–${plan.descentEnd}${ep(plan.descentEnd)}: ${plan.startBits} bits → ${targets} (${plan.shape}), temperature steered by the measured bits`,
    ...(plan.stagger > 0 ? [`            layers reach their targets front to back from step ${layerEnd(plan, 0, 2)}, the last at ${plan.descentEnd}`] : []),
    `  recovery  steps ${plan.descentEnd + 1}–${plan.totalSteps}: targets held; the LR anneals from when the targets are met (later by any holds)`,
  ].join('\n');
}
