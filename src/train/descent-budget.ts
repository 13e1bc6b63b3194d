// What a planned descent needs from its budget, decided before any training (and, in a
// data-parallel run, before any worker is started): whether a plan of these steps is workable,
// the batch size that makes it so when the user left the batch to us, and the quantizer LR at
// each step of the plan.
//
// Each layer's quantizer LR follows its own plan's rate: an Adam-type step moves a log2 parameter by about
// lr·(RAdam's rectification) whatever the gradient's scale, so the LR, not the temperature, sets
// how fast a bit-width can fall. A constant LR sized for the plan's mean rate (the former rule:
// 0.0244 at W1A1, 12× the reference's single LR) lets a 1-bit quantizer cross its ~0.4-bit band
// in ~8 steps. Following the ease-out plan's rate instead, the LR is large while the harmless
// high bits go and falls to the weights' LR (the reference's one LR for every parameter) as the
// layer nears its target, so its last crossing takes a hundred steps or more.
import { radamRectification } from '../optim';
import { BudgetError, DescentPlan, DescentPlanOptions, DescentShape, planDescent, layerEnd } from '../quant';

/** The most the quantizer LR reaches, and the planned need beyond which the budget is refused. */
export const QLR_MAX = 0.2;
// 0.75 is 0.3 without the 2.5× margin, where even the largest LR would leave the descent far
// behind its plan (a ResNet-20 plan needing 1.05 reached its W2A2 target 25% late at 0.2).
export const QLR_REFUSE = 0.75;
/** Safety factor of the LR over the planned rate (noisy gradients, the penalty's share). */
const RATE_MARGIN = 2.5;
/**
 * Adam's betas of the quantizer parameters: β2 = 0.99 (the weights keep RAdam's 0.999) forgets
 * the large gradients of a hot penalty in ~100 steps instead of ~1,000, after which a quantizer
 * would otherwise move at a fraction of its LR, and lets RAdam's rectification rise sooner
 * (0.64 at step 100 instead of 0.21).
 */
export const QUANT_BETAS: [number, number] = [0.9, 0.99];
const rect = (step: number): number => radamRectification(step, QUANT_BETAS[1]);
/** Steps over which a layer's lag behind its plan is to be closed (at most; see catchUpSteps). */
export const CATCH_UP_STEPS = 200;

/** A short run closes a lag faster: an eighth of its recovery, between 20 and CATCH_UP_STEPS steps. */
export function catchUpSteps(plan: DescentPlan): number {
  return Math.max(20, Math.min(CATCH_UP_STEPS, Math.round(plan.recoverySteps / 8)));
}
/** Rectification below this counts as this (RAdam's first steps are un-normalised SGD). */
const RECT_FLOOR = 0.02;

/**
 * The LR a layer's quantizer parameters need at optimizer step `step` (1-based) while its plan
 * descends at `rate` bits per step (DescentController.plannedRate): 2.5× the rate over RAdam's
 * rectification, within [floor, QLR_MAX]; `floor` (the weights' LR) once the layer's descent is
 * over. A layer that lags its plan by `lag` bits gets the rate that closes the lag in
 * `catchUpSteps` (no margin: a lagging 1-bit layer must still take tens of steps to cross).
 */
export function quantizerLrAt(step: number, rate: number, floor: number, lag = 0, catchUpSteps = CATCH_UP_STEPS): number {
  const need = (RATE_MARGIN * rate + Math.max(0, lag) / catchUpSteps) / Math.max(rect(step), RECT_FLOOR);
  return Math.min(QLR_MAX, Math.max(floor, need));
}

/**
 * The quantizer LR a plan needs at its most demanding step: the first layer's descent (the
 * shortest when staggered) at the plan's mean rectification over it, 2.5× its mean rate.
 * Beyond QLR_REFUSE the budget is refused.
 */
export function plannedQuantizerLr(plan: DescentPlan, startBits: number, minTarget: number): number {
  const end = layerEnd(plan, 0, 2);
  const len = Math.max(1, end - plan.warmupSteps);
  let sum = 0;
  for (let k = plan.warmupSteps + 1; k <= end; k++) sum += rect(k);
  const mean = Math.max(0, startBits - minTarget) / len;
  return Math.max(0.01, (RATE_MARGIN * mean) / Math.max(sum / len, RECT_FLOOR));
}

export interface DescentBudget {
  trainImages: number;
  /** Ranks: the global batch is batchSize × ranks. */
  ranks?: number;
  epochs: number;
  startBits: number;
  minTarget: number;
  descent?: number;
  shape?: DescentShape;
  stagger?: number;
  /** Warm-up steps (default 5% of the run). */
  warmupSteps?: number;
}

/** Optimizer steps per epoch of a loader over n images (the last batch is kept). */
export function stepsPerEpoch(n: number, batchSize: number, ranks = 1): number {
  return Math.max(1, Math.ceil(n / (batchSize * ranks)));
}

function planFor(b: DescentBudget, batchSize: number, epochs = b.epochs): DescentPlan {
  const spe = stepsPerEpoch(b.trainImages, batchSize, b.ranks);
  const total = epochs * spe;
  const o: DescentPlanOptions = {
    totalSteps: total, startBits: b.startBits, minTarget: b.minTarget, warmupSteps: b.warmupSteps ?? Math.round(0.05 * total),
    descent: b.descent, shape: b.shape, stagger: b.stagger,
  };
  return planDescent(o);
}

/** The plan of this batch, or a BudgetError naming what would do (more epochs, a smaller batch). */
export function feasiblePlan(b: DescentBudget, batchSize: number): DescentPlan {
  const plan = planFor(b, batchSize);
  const need = plannedQuantizerLr(plan, b.startBits, b.minTarget);
  if (need <= QLR_REFUSE) return plan;
  let more = b.epochs + 1;
  for (; more < 100 * b.epochs; more++) {
    try {
      if (plannedQuantizerLr(planFor(b, batchSize, more), b.startBits, b.minTarget) <= QLR_REFUSE) break;
    } catch { /* still too short */ }
  }
  throw new BudgetError(`budget too short: descending from ${b.startBits} to ${b.minTarget} bits in steps ${plan.warmupSteps + 1}–${plan.descentEnd} ` +
    `would need a quantizer LR of ${need.toFixed(2)} (the optimizer moves slowly in its first hundreds of steps; at most ${QLR_REFUSE} is workable): ` +
    `give about ${more} epochs of ${stepsPerEpoch(b.trainImages, batchSize, b.ranks)} steps (or a smaller batch), or a later --descent`);
}

/** The batch sizes tried, largest first, when the user gave none. */
export const BATCH_CHOICES: readonly number[] = [128, 64, 32, 16, 8];

export interface BatchChoice { batchSize: number; plan: DescentPlan; note: string | null }

/**
 * The batch (per rank) of a planned run. A batch the user gave is kept (its plan refused if
 * unworkable); otherwise the largest of BATCH_CHOICES whose plan works, with a note saying why
 * when that is not the default. When none works, the smallest batch's refusal is thrown.
 */
export function chooseBatchSize(b: DescentBudget, requested?: number): BatchChoice {
  if (requested !== undefined) return { batchSize: requested, plan: feasiblePlan(b, requested), note: null };
  let last: unknown = null;
  for (const bs of BATCH_CHOICES) {
    try {
      const plan = feasiblePlan(b, bs);
      const note = bs === BATCH_CHOICES[0] ? null
        : `batch ${bs} (not ${BATCH_CHOICES[0]}): ${b.trainImages} training images give ${stepsPerEpoch(b.trainImages, BATCH_CHOICES[0], b.ranks)} steps an epoch at ${BATCH_CHOICES[0]}, too few for the descent in ${b.epochs} epochs`;
      return { batchSize: bs, plan, note };
    } catch (e) {
      if (!(e instanceof BudgetError)) throw e;
      last = e;
    }
  }
  throw last instanceof BudgetError ? new BudgetError(`${last.message} (no batch size from ${BATCH_CHOICES[0]} down to ${BATCH_CHOICES[BATCH_CHOICES.length - 1]} makes it workable)`) : last;
}
