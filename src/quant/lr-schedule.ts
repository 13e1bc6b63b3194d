// The GDNSQ learning-rate rule as a factor of the base LR per step (the trainer's lrFactor
// hook): linear warm-up, then one of
// - 'exp' (the reference, GDNSQ.md §4.4/§8): constant while the model is not converged; ×decay
//   per step while it is, convergence re-checked at every epoch end (not latched: an epoch that
//   ends unconverged pauses the decay, the factor reached so far is kept). The decay is given
//   per epoch (default 0.93 = the reference's ×0.9985 per step at its ~50 steps per epoch) and
//   spread over the epoch's steps, so it does not depend on the batch size;
// - 'cosine' (the planned descent's default): constant until `annealStart`, then half a cosine
//   down to `minFactor` at `totalSteps` — the recovery phase of the plan. With
//   `waitForTargets` the cosine starts only when its owner calls startAnneal() (the planned
//   descent: when the targets are met after the plan's end), never before annealStart: an
//   annealed LR cannot repair what a late descent costs, so the recovery waits for it;
// - 'none': constant after the warm-up.
export type AnnealMode = 'exp' | 'cosine' | 'none';
export const ANNEAL_MODES: readonly AnnealMode[] = ['exp', 'cosine', 'none'];

export interface LrScheduleOptions {
  /** Linear warm-up length in steps (default 1000; 0 = none). */
  warmupSteps?: number;
  anneal?: AnnealMode;
  /** 'exp': factor per epoch while converged (default 0.93). */
  decayPerEpoch?: number;
  /** 'exp': optimizer steps per epoch (the per-step factor is decayPerEpoch^(1/stepsPerEpoch)). */
  stepsPerEpoch?: number;
  /** 'cosine': the step the annealing starts at and the last step. */
  annealStart?: number;
  totalSteps?: number;
  /** 'cosine': the factor reached at totalSteps (default 0). */
  minFactor?: number;
  /** 'cosine': start only at startAnneal(step) (≥ annealStart), not at annealStart itself. */
  waitForTargets?: boolean;
}

export interface LrScheduleState { converged: boolean; decaySteps: number; annealFrom?: number | null }

export class GdnsqLrSchedule {
  readonly warmupSteps: number;
  readonly anneal: AnnealMode;
  readonly decayPerEpoch: number;
  readonly stepDecay: number;
  private readonly annealStart: number;
  private readonly totalSteps: number;
  private readonly minFactor: number;
  /** 'exp': whether the last epoch ended converged, and the steps decayed so far. */
  converged = false;
  decaySteps = 0;
  /** 'cosine': the step the annealing started at (null: not yet). */
  annealFrom: number | null;

  constructor(o: LrScheduleOptions = {}) {
    this.warmupSteps = o.warmupSteps ?? 1000;
    this.anneal = o.anneal ?? 'exp';
    this.decayPerEpoch = o.decayPerEpoch ?? 0.93;
    this.annealStart = o.annealStart ?? 0;
    this.totalSteps = o.totalSteps ?? 0;
    this.minFactor = o.minFactor ?? 0;
    if (!(Number.isInteger(this.warmupSteps) && this.warmupSteps >= 0)) throw new Error(`GdnsqLrSchedule: warmupSteps must be an integer ≥ 0, got ${o.warmupSteps}`);
    if (!ANNEAL_MODES.includes(this.anneal)) throw new Error(`GdnsqLrSchedule: unknown anneal '${String(this.anneal)}' (${ANNEAL_MODES.join(', ')})`);
    if (!(this.decayPerEpoch > 0 && this.decayPerEpoch <= 1)) throw new Error(`GdnsqLrSchedule: decayPerEpoch must be in (0, 1], got ${o.decayPerEpoch}`);
    const spe = o.stepsPerEpoch ?? 1;
    if (this.anneal === 'exp' && !(Number.isInteger(spe) && spe >= 1)) throw new Error(`GdnsqLrSchedule: stepsPerEpoch must be a positive integer, got ${o.stepsPerEpoch}`);
    this.stepDecay = this.decayPerEpoch ** (1 / spe);
    if (this.anneal === 'cosine' && !(this.totalSteps > this.annealStart && this.annealStart >= 0)) {
      throw new Error(`GdnsqLrSchedule: cosine annealing needs 0 ≤ annealStart < totalSteps, got ${o.annealStart}, ${o.totalSteps}`);
    }
    if (!(this.minFactor >= 0 && this.minFactor <= 1)) throw new Error(`GdnsqLrSchedule: minFactor must be in [0, 1], got ${o.minFactor}`);
    this.annealFrom = this.anneal === 'cosine' && !o.waitForTargets ? this.annealStart : null;
  }

  /** 'cosine' with waitForTargets: the annealing starts at this step (or at annealStart if later); once. */
  startAnneal(step: number): void {
    if (this.anneal === 'cosine' && this.annealFrom === null) this.annealFrom = Math.min(Math.max(step, this.annealStart), this.totalSteps - 1);
  }
  get annealing(): boolean { return this.annealFrom !== null; }

  /** The LR factor of 0-based step `step`. */
  factor(step: number): number {
    const warm = this.warmupSteps > 0 ? Math.min(1, (step + 1) / this.warmupSteps) : 1;
    if (this.anneal === 'exp') return warm * this.stepDecay ** this.decaySteps;
    if (this.anneal === 'cosine' && this.annealFrom !== null && step >= this.annealFrom) {
      const u = Math.min(1, (step - this.annealFrom) / (this.totalSteps - this.annealFrom));
      return warm * (this.minFactor + (1 - this.minFactor) * 0.5 * (1 + Math.cos(Math.PI * u)));
    }
    return warm;
  }

  /** After each optimizer step: the 'exp' decay advances while converged (and after the warm-up). */
  afterStep(step: number): void {
    if (this.anneal === 'exp' && this.converged && step > this.warmupSteps) this.decaySteps++;
  }

  /** At each epoch end: whether the model meets its targets now. */
  setConverged(converged: boolean): void {
    this.converged = converged;
  }

  state(): LrScheduleState { return { converged: this.converged, decaySteps: this.decaySteps, annealFrom: this.annealFrom }; }

  loadState(s: unknown): void {
    const st = s as Partial<LrScheduleState> | null;
    if (!st || typeof st.converged !== 'boolean' || !(Number.isInteger(st.decaySteps) && (st.decaySteps as number) >= 0)) {
      throw new Error('GdnsqLrSchedule.loadState: expected {converged: boolean, decaySteps: integer ≥ 0}');
    }
    this.converged = st.converged;
    this.decaySteps = st.decaySteps as number;
    if (st.annealFrom !== undefined) this.annealFrom = st.annealFrom;
  }
}
