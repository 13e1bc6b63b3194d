// The GDNSQ learning-rate rule (GDNSQ.md §4.4), as a factor of the base LR per step (the
// trainer's lrFactor hook): linear warm-up, constant until the model has converged (checked at
// each epoch end and latched), then ×decay per step.
export interface LrScheduleOptions {
  /** Linear warm-up length in steps (default 1000; 0 = none). */
  warmupSteps?: number;
  /** Per-step factor once converged (default 0.9985). */
  decay?: number;
}

export interface LrScheduleState { convergedAt: number | null }

export class GdnsqLrSchedule {
  readonly warmupSteps: number;
  readonly decay: number;
  /** The step at which convergence was first seen (null: not yet). */
  convergedAt: number | null = null;

  constructor(o: LrScheduleOptions = {}) {
    this.warmupSteps = o.warmupSteps ?? 1000;
    this.decay = o.decay ?? 0.9985;
    if (!(Number.isInteger(this.warmupSteps) && this.warmupSteps >= 0)) throw new Error(`GdnsqLrSchedule: warmupSteps must be an integer ≥ 0, got ${o.warmupSteps}`);
    if (!(this.decay > 0 && this.decay <= 1)) throw new Error(`GdnsqLrSchedule: decay must be in (0, 1], got ${o.decay}`);
  }

  /** The LR factor of 0-based step `step`. */
  factor(step: number): number {
    const warm = this.warmupSteps > 0 ? Math.min(1, (step + 1) / this.warmupSteps) : 1;
    if (this.convergedAt === null || step < this.convergedAt) return warm;
    return warm * this.decay ** (step - this.convergedAt);
  }

  /** Records convergence seen after `step` optimizer steps; the first call starts the decay. */
  markConverged(step: number): void {
    if (this.convergedAt === null) this.convergedAt = step;
  }

  state(): LrScheduleState { return { convergedAt: this.convergedAt }; }

  loadState(s: unknown): void {
    const c = (s as Partial<LrScheduleState> | null)?.convergedAt;
    if (c !== null && !(typeof c === 'number' && Number.isInteger(c) && c >= 0)) {
      throw new Error('GdnsqLrSchedule.loadState: expected {convergedAt: integer ≥ 0 | null}');
    }
    this.convergedAt = c;
  }
}
