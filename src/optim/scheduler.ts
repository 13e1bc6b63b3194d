// Drives an optimizer's learning rates from a Schedule: group lr = base lr × schedule(t).
// Use as in PyTorch: optimizer.step(); scheduler.step(); (construction applies t = 0).
import { Schedule } from './schedule';

/** What LRScheduler needs from an optimizer. */
export interface HasParamGroups {
  readonly paramGroups: ReadonlyArray<{ lr: number }>;
}

/**
 * The step counter plus the base lrs, so a resumed run gets the same lrs whether the scheduler
 * is built before or after the optimizer's own state (which holds scheduled lrs) is loaded.
 */
export interface LRSchedulerState {
  step: number;
  baseLrs: number[];
}

export class LRScheduler {
  private t = 0;
  private bases: number[];

  /** The base lrs are the groups' lrs now. */
  constructor(private readonly optimizer: HasParamGroups, private readonly schedule: Schedule) {
    if (typeof schedule !== 'function') throw new Error('LRScheduler: schedule must be a function of the step index');
    this.bases = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** Steps taken so far: the index of the step the current lrs are for. */
  get stepCount(): number {
    return this.t;
  }
  get baseLrs(): number[] {
    return [...this.bases];
  }
  /** The lrs the groups have now. */
  get lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Advances one step and sets the groups' lrs for it. */
  step(): void {
    this.t += 1;
    this.apply();
  }

  stateDict(): LRSchedulerState {
    return { step: this.t, baseLrs: [...this.bases] };
  }

  loadStateDict(s: LRSchedulerState): void {
    if (!s || !Number.isInteger(s.step) || s.step < 0) throw new Error(`LRScheduler.loadStateDict: step must be a non-negative integer, got ${String(s?.step)}`);
    const groups = this.optimizer.paramGroups.length;
    if (!Array.isArray(s.baseLrs) || s.baseLrs.length !== groups) {
      throw new Error(`LRScheduler.loadStateDict: ${s.baseLrs?.length ?? 0} base lrs for ${groups} parameter groups`);
    }
    if (!s.baseLrs.every((v) => typeof v === 'number' && v >= 0)) throw new Error(`LRScheduler.loadStateDict: base lrs must be non-negative numbers, got [${s.baseLrs.join(', ')}]`);
    this.t = s.step;
    this.bases = [...s.baseLrs];
    this.apply();
  }

  private apply(): void {
    const f = this.schedule(this.t);
    if (!(f >= 0 && Number.isFinite(f))) throw new Error(`LRScheduler: the schedule gave ${f} at step ${this.t}; expected a finite factor ≥ 0`);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.bases[i] * f));
  }
}
