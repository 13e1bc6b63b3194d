// Learning-rate schedules as pure functions of the step index t = 0, 1, 2, ... (t is the
// number of optimizer steps already taken). Each returns a dimensionless factor; LRScheduler
// multiplies every group's base lr by it, so groups keep their ratios. Composition is plain
// function composition: linearWarmup wraps any schedule, sequential chains them.

/** Factor of the base lr for the step with index t. */
export type Schedule = (t: number) => number;

function positiveInt(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${fn}: ${name} must be a positive integer, got ${v}`);
}
function positive(fn: string, name: string, v: number): void {
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new Error(`${fn}: ${name} must be a positive number, got ${v}`);
}

export function constant(value = 1): Schedule {
  if (!(value >= 0 && Number.isFinite(value))) throw new Error(`constant: value must be a non-negative number, got ${value}`);
  return () => value;
}

/**
 * Ramps linearly over `steps` steps, (t+1)/steps, multiplying `inner` (which runs on
 * meanwhile, unshifted): the first step already moves, step steps−1 reaches the full value.
 */
export function linearWarmup(steps: number, inner: Schedule = constant()): Schedule {
  positiveInt('linearWarmup', 'steps', steps);
  return (t) => inner(t) * Math.min(1, (t + 1) / steps);
}

/**
 * Cosine annealing from 1 to `min` over `total` steps (PyTorch's CosineAnnealingLR with
 * eta_min = min·base lr): min + (1 − min)·(1 + cos(π·t/total))/2. Holds `min` after `total`
 * (PyTorch's closed form would rise again).
 */
export function cosine(total: number, { min = 0 }: { min?: number } = {}): Schedule {
  positiveInt('cosine', 'total', total);
  if (!(min >= 0 && Number.isFinite(min))) throw new Error(`cosine: min must be a non-negative number, got ${min}`);
  return (t) => min + ((1 - min) * (1 + Math.cos((Math.PI * Math.min(t, total)) / total))) / 2;
}

/** gamma^⌊t/size⌋: multiply by gamma every `size` steps (PyTorch's StepLR). */
export function step(size: number, gamma: number): Schedule {
  positiveInt('step', 'size', size);
  positive('step', 'gamma', gamma);
  return (t) => gamma ** Math.floor(t / size);
}

/** gamma^t (PyTorch's ExponentialLR). */
export function exponential(gamma: number): Schedule {
  positive('exponential', 'gamma', gamma);
  return (t) => gamma ** t;
}

export interface OneCycleOptions {
  /** Highest factor, reached at the end of the first phase (default 1: the base lr itself). */
  peak?: number;
  total: number;
  /** Fraction of `total` spent rising. */
  pctStart?: number;
  /** The start is peak/divFactor. */
  divFactor?: number;
  /** The end is start/finalDivFactor. */
  finalDivFactor?: number;
}

/**
 * PyTorch's OneCycleLR (two phases, anneal_strategy='cos'; momentum is not cycled): cosine from
 * peak/divFactor up to peak, reached at t = pctStart·total − 1 as in PyTorch, then cosine down
 * to peak/(divFactor·finalDivFactor) at t = total − 1, held after that (PyTorch throws instead).
 */
export function oneCycle({ peak = 1, total, pctStart = 0.15, divFactor = 25, finalDivFactor = 1e4 }: OneCycleOptions): Schedule {
  positive('oneCycle', 'peak', peak);
  positiveInt('oneCycle', 'total', total);
  if (!(pctStart >= 0 && pctStart <= 1)) throw new Error(`oneCycle: pctStart must be in [0, 1], got ${pctStart}`);
  positive('oneCycle', 'divFactor', divFactor);
  positive('oneCycle', 'finalDivFactor', finalDivFactor);
  const initial = peak / divFactor;
  const final = initial / finalDivFactor;
  const peakAt = pctStart * total - 1;
  const anneal = (from: number, to: number, pct: number): number => to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1);
  return (t) => {
    const s = Math.min(t, total - 1);
    // peakAt ≤ 0 (pctStart·total ≤ 1): the rise is over at once.
    if (s <= peakAt) return anneal(initial, peak, peakAt > 0 ? s / peakAt : 1);
    return anneal(peak, final, (s - peakAt) / (total - 1 - peakAt));
  };
}

/**
 * Runs each schedule for its number of steps, restarting its own count at 0 (PyTorch's
 * SequentialLR). The last segment's length may be left out; it runs on indefinitely.
 */
export function sequential(segments: ReadonlyArray<readonly [Schedule, number] | readonly [Schedule]>): Schedule {
  if (segments.length === 0) throw new Error('sequential: needs at least one segment');
  const starts: number[] = [];
  let at = 0;
  segments.forEach(([fn, steps], i) => {
    if (typeof fn !== 'function') throw new Error(`sequential: segment ${i} has no schedule function`);
    const last = i === segments.length - 1;
    if (!last || steps !== undefined) positiveInt('sequential', `segment ${i} length`, steps as number);
    starts.push(at);
    at += steps ?? 0;
  });
  return (t) => {
    let i = segments.length - 1;
    while (i > 0 && t < starts[i]) i--;
    return segments[i][0](t - starts[i]);
  };
}
