// Feedback for the planned descent (descent-plan.ts). Each step it compares the measured
// differentiable bit-widths with the plan and moves a penalty temperature multiplicatively, one
// for the weight quantizers and one for the activation quantizers (they descend at different
// speeds, and a common temperature wound up by the slower group would drive the faster one far
// below its plan): up while the group's worst quantizer lags the plan and is not catching up,
// slowly down while the whole group is on or below it. Because the penalty's targets are the
// planned values (max(0, B − planned)), a quantizer ahead of the plan feels no push, so the bits
// follow the plan instead of racing past it. Holding t while the lag shrinks keeps t from
// winding up when the descent is limited by the optimizer's step rather than by t.
//
// The controller is bounded: t moves by at most e^gain per step (gain 0.05 up for the 10-epoch
// rows, up to 0.1 for short plans: defaultGain; half of it down) and stays in [1e-6, 1e3] (t in
// the published rows ranges 1–200). It cannot run away as the former e^0.1 gain with a 1e9 cap did (t 411 → 7,474 in 50
// steps at W1A1, the steps that collapsed the row); the quantizer LR (descent-budget.ts), not t,
// bounds how fast a bit-width can fall.
//
// A guard tells a collapse from the normal cost of a bit: a collapse is fast, so it compares a
// fast running mean of the training accuracy (about 10 steps) with a slow one (about 100 steps).
// Losing a bit costs accuracy over hundreds of steps and moves both means together (a steady
// fall of r per step opens a gap of only ~90·r); a collapse opens the gap within tens of steps.
// When the gap exceeds `holdDrop` the plan's clock stops (the planned bits stay where they are)
// until the fast mean is back within holdDrop/2 of the slow mean's level at the trigger, for at
// most `maxHold` steps in all. Holds are counted and reported; they delay the descent (and the
// annealing after it), they never skip it.
import { DescentPlan, plannedBits, plannedRate, layerEnd } from './descent-plan';

export interface DescentControllerOptions {
  plan: DescentPlan;
  /** Temperature when the descent starts (default 1). */
  t0?: number;
  /** Largest log-change of t per step up (half of it down); default defaultGain(plan). */
  gain?: number;
  /** Lag in bits the controller tolerates before raising t (default 0.02). */
  tolerance?: number;
  /** Gap (fraction) between the slow and the fast running training accuracy that holds the plan (default 0.1). */
  holdDrop?: number;
  /** Most steps the plan may be held in all (default: a quarter of the recovery phase). */
  maxHold?: number;
}

export interface DescentMeasure {
  /** max over the weight (activation) quantizers and channels of B − planned, in bits; −∞ for an empty group. */
  lagW: number;
  lagA: number;
  /** Training top-1 of the batch (fraction). */
  acc: number;
}

interface Channel { t: number; lag: number; ema: number | null }

export interface DescentControllerState {
  w: Channel; a: Channel; clock: number; held: number; holds: number; holding: boolean;
  /** The slow mean's level when the hold started (the accuracy the guard waits for). */
  accRef: number; accCount: number; accEma: number | null; accFast: number | null;
}

/**
 * The controller's gain: 40 / (descent steps), within [0.05, 0.1]. A descent of 800 steps or
 * more (the 10-epoch rows: 1,505) gets 0.05, t doubling in 14 steps at most; a short one must
 * keep up with a steeper plan (225 steps, descent 79: 0.1, doubling in 7), where the quantizer
 * LR, not t, still bounds how fast a bit-width falls.
 */
export function defaultGain(plan: DescentPlan): number {
  return Math.min(0.1, Math.max(0.05, 40 / Math.max(1, plan.descentEnd - plan.warmupSteps)));
}

const ACC_SLOW = 0.01, ACC_FAST = 0.1, LAG_EMA = 0.2, CATCHING_UP = 1e-3;
/** The temperature's bounds. */
export const T_MIN = 1e-6, T_MAX = 1e3;

export class DescentController {
  readonly plan: DescentPlan;
  private readonly t0: number;
  private readonly gain: number;
  private readonly tolerance: number;
  private readonly holdDrop: number;
  private readonly maxHold: number;
  private s: DescentControllerState = {
    w: { t: 0, lag: 0, ema: null }, a: { t: 0, lag: 0, ema: null },
    clock: 0, held: 0, holds: 0, holding: false, accRef: 0, accCount: 0, accEma: null, accFast: null,
  };

  constructor(o: DescentControllerOptions) {
    this.plan = o.plan;
    this.t0 = o.t0 ?? 1;
    this.gain = o.gain ?? defaultGain(o.plan);
    this.tolerance = o.tolerance ?? 0.02;
    this.holdDrop = o.holdDrop ?? 0.1;
    this.maxHold = o.maxHold ?? Math.floor(o.plan.recoverySteps / 4);
    for (const [k, v] of Object.entries({ t0: this.t0, gain: this.gain, tolerance: this.tolerance, holdDrop: this.holdDrop })) {
      if (!(v > 0 && Number.isFinite(v))) throw new Error(`DescentController: ${k} must be a positive number, got ${v}`);
    }
  }

  /** Temperatures of the weight and activation groups for the next step. */
  get tw(): number { return this.s.w.t; }
  get ta(): number { return this.s.a.t; }
  /** The plan's clock: steps so far less the steps held. */
  get clock(): number { return this.s.clock; }
  get holding(): boolean { return this.s.holding; }
  /** Steps held and hold episodes so far. */
  get held(): number { return this.s.held; }
  get holds(): number { return this.s.holds; }
  get lagW(): number { return this.s.w.lag; }
  get lagA(): number { return this.s.a.lag; }
  get accuracyReference(): number { return this.s.accRef; }
  /** The slow and the fast running means of the training accuracy. */
  get accuracyMean(): number | null { return this.s.accEma; }
  get accuracyFast(): number | null { return this.s.accFast; }
  /** Whether the plan's clock has passed the end of the descent (every layer's target is due). */
  get descentDone(): boolean { return this.s.clock >= this.plan.descentEnd; }

  /**
   * The planned bit-width now of a quantizer with this target, in quantized layer `layer` of
   * `layers` (network order; default: the last layer, whose descent ends at descentEnd).
   */
  planned(target: number, layer?: number, layers?: number): number {
    return plannedBits(this.plan, this.s.clock, target, this.endOf(layer, layers));
  }

  /** How fast the plan descends now for this target and layer, in bits per step (0 while held). */
  plannedRate(target: number, layer?: number, layers?: number): number {
    return this.s.holding ? 0 : plannedRate(this.plan, this.s.clock, target, this.endOf(layer, layers));
  }

  private endOf(layer?: number, layers?: number): number {
    return layer === undefined || layers === undefined ? this.plan.descentEnd : layerEnd(this.plan, layer, layers);
  }

  /** After optimizer step `step` (1-based), with what that step measured. */
  update(step: number, m: DescentMeasure): void {
    const s = this.s;
    if (step <= this.plan.warmupSteps) {
      s.accCount++;
      s.accRef += (m.acc - s.accRef) / s.accCount;
      s.accEma = s.accRef;
      s.clock = step;
      s.w.lag = m.lagW;
      s.a.lag = m.lagA;
      return;
    }
    // Both means start from the warm-up mean (the accuracy before any bit was lost).
    if (s.accCount === 0) { s.accRef = m.acc; s.accCount = 1; }
    const slow0 = s.accEma ?? s.accRef, fast0 = s.accFast ?? slow0;
    s.accEma = slow0 + ACC_SLOW * (m.acc - slow0);
    s.accFast = fast0 + ACC_FAST * (m.acc - fast0);
    if (!s.holding && s.accEma - s.accFast > this.holdDrop && s.held < this.maxHold) {
      s.holding = true;
      s.holds++;
      s.accRef = s.accEma;
    } else if (s.holding && (s.accFast >= s.accRef - this.holdDrop / 2 || s.held >= this.maxHold)) {
      s.holding = false;
    }
    if (s.holding) s.held++;
    else s.clock++;
    this.steer(s.w, m.lagW);
    this.steer(s.a, m.lagA);
  }

  private steer(c: Channel, lag: number): void {
    c.lag = lag;
    if (!Number.isFinite(lag)) return;  // an empty group
    if (c.t === 0) c.t = this.t0;
    const prev = c.ema;
    c.ema = prev === null ? lag : prev + LAG_EMA * (lag - prev);
    const u = Math.max(-1, Math.min(1, (lag - this.tolerance) / this.tolerance));
    const catchingUp = prev !== null && c.ema < prev - CATCHING_UP;
    if (u > 0 && catchingUp) return;
    c.t = Math.min(T_MAX, Math.max(T_MIN, c.t * Math.exp(u > 0 ? this.gain * u : (this.gain / 2) * u)));
  }

  state(): DescentControllerState { return { ...this.s, w: { ...this.s.w }, a: { ...this.s.a } }; }

  loadState(st: unknown): void {
    const x = st as Partial<DescentControllerState> | null;
    const nums = ['clock', 'held', 'holds', 'accRef', 'accCount'] as const;
    // JSON writes an empty group's lag (−∞) as null.
    const chan = (c: unknown): boolean => !!c && typeof (c as Channel).t === 'number' && (typeof (c as Channel).lag === 'number' || (c as Channel).lag === null);
    if (!x || nums.some((k) => typeof x[k] !== 'number') || typeof x.holding !== 'boolean' || !chan(x.w) || !chan(x.a)) {
      throw new Error('DescentController.loadState: expected {w, a, clock, held, holds, holding, accRef, accCount, accEma, accFast}');
    }
    const restore = (c: Channel): Channel => ({ ...c, lag: c.lag ?? -Infinity });
    this.s = { ...(x as DescentControllerState), accFast: x.accFast ?? null, w: restore(x.w!), a: restore(x.a!) };
  }
}
