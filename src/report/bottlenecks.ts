// The quantization bottlenecks of a run (the paper's "capacity dynamics"): the quantizers whose
// bit-width resists the descent. From the step records of metrics.jsonl (each has every
// quantizer's target, differentiable and true bits, and the group's planned bits w_plan/a_plan)
// it measures, per quantizer, how far its true bits lagged the plan, for how much of the run
// the penalty was active on it (differentiable bits above the plan) and when its true bits
// reached the target for good; the last to reach it and the most lagging are the bottlenecks.
import { Run, StepRecord, quantizerRole } from './run';

export interface Bottleneck {
  /** Quantizer name, e.g. `layer1.0.conv1.weight_quant`. */
  name: string;
  layer: string;
  role: string;
  target: number;
  /** Mean and largest positive lag true − plan (bits) over the logged steps after the warm-up. */
  meanLag: number;
  maxLag: number;
  /** Share of the logged steps after the warm-up with the widest channel's differentiable bits above the plan (the penalty active). */
  activeShare: number;
  /** First logged step from which the true bits stay at or below the target (null: not by the end). */
  reachedStep: number | null;
  /** True bits in the last record (the widest channel), and of its narrowest channel. */
  finalTrue: number;
  finalMin: number;
}

interface PlannedStep extends StepRecord { w_plan?: number; a_plan?: number; t?: number; tw?: number; ta?: number }

const TOL = 1e-9;

/** Per-quantizer resistance, the strongest bottleneck first (latest to reach the target, then the largest mean lag). */
export function bottlenecks(run: Run): Bottleneck[] {
  const steps = (run.steps as PlannedStep[]).filter((s) => s.layers).sort((a, b) => a.step - b.step);
  if (!steps.length) return [];
  // After the warm-up: the first step whose penalty temperature is positive (else every step).
  const firstActive = steps.findIndex((s) => (s.tw ?? 0) > 0 || (s.ta ?? 0) > 0 || (s.t ?? 0) > 0);
  const descent = firstActive >= 0 ? steps.slice(firstActive) : steps;
  const names = Object.keys(steps[steps.length - 1].layers!);
  const out: Bottleneck[] = [];
  for (const name of names) {
    const { layer, role } = quantizerRole(name);
    const planOf = (s: PlannedStep, target: number): number => {
      const p = role === 'act' ? s.a_plan : s.w_plan;
      // The group's plan is the plan of the group's target; a quantizer with its own lower target is held to at most its target.
      return typeof p === 'number' ? Math.max(p, target) : target;
    };
    let lagSum = 0, lagMax = 0, n = 0, active = 0;
    for (const s of descent) {
      const b = s.layers![name];
      if (!b) continue;
      const plan = planOf(s, b.target);
      const lag = Math.max(0, b.true - plan);
      lagSum += lag;
      lagMax = Math.max(lagMax, lag);
      // The penalty acts per channel: active while the widest channel is above the plan.
      if ((b.max ?? b.bits) > plan + TOL) active++;
      n++;
    }
    let reached: number | null = null;
    for (let i = steps.length - 1; i >= 0; i--) {
      const b = steps[i].layers![name];
      if (!b || b.true > b.target + TOL) break;
      reached = steps[i].step;
    }
    const last = steps[steps.length - 1].layers![name];
    out.push({ name, layer, role, target: last.target, meanLag: n ? lagSum / n : 0, maxLag: lagMax, activeShare: n ? active / n : 0, reachedStep: reached, finalTrue: last.true, finalMin: last.true_min ?? last.true });
  }
  const reachKey = (b: Bottleneck): number => (b.reachedStep === null ? Infinity : b.reachedStep);
  return out.sort((a, b) => reachKey(b) - reachKey(a) || b.meanLag - a.meanLag || b.activeShare - a.activeShare || a.name.localeCompare(b.name));
}

const ROLE: Record<string, string> = { weight: 'weights', bias: 'bias', act: 'activations' };

/** The Markdown section: a sentence naming the bottlenecks and the table of every quantizer. */
export function bottleneckSection(list: Bottleneck[], top = 5): string[] {
  if (!list.length) return [];
  const named = list.slice(0, Math.min(top, list.length)).map((b) => `\`${b.layer}\` (${ROLE[b.role] ?? b.role})`);
  const lines = [
    '## Bottlenecks: where the bit-width resists the descent', '',
    `Quantizers ordered by when their true bits reached the target for good (latest first), then by their mean lag behind the planned bits. The strongest: ${named.join(', ')}.`, '',
    '| quantizer | target | reached target at step | mean lag (bits) | max lag (bits) | penalty active | final true bits (narrowest channel) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const b of list) {
    lines.push(`| \`${b.layer}\` ${ROLE[b.role] ?? b.role} | ${b.target} | ${b.reachedStep ?? 'not reached'} | ${b.meanLag.toFixed(3)} | ${b.maxLag.toFixed(2)} | ${(100 * b.activeShare).toFixed(0)}% | ${b.finalTrue.toFixed(2)}${b.finalMin !== b.finalTrue ? ` (${b.finalMin.toFixed(2)})` : ''} |`);
  }
  lines.push('', 'Lag: true bits − planned bits where positive, over the logged steps after the warm-up; penalty active: share of those steps with the differentiable bits of the widest channel above the plan.', '');
  lines.push(...belowTargetLines(list));
  return lines;
}

/**
 * "Converged" means true bits ≤ target, which also holds for a quantizer that ended a whole bit
 * or more below its target (at 0 bits its output is a constant): capacity the budget allowed
 * and the run lost. Named here so a converged run cannot hide it.
 */
export function belowTarget(list: Bottleneck[]): Bottleneck[] {
  // The narrowest channel counts: a per-channel weight with one constant channel has lost it.
  return list.filter((b) => b.finalMin <= b.target - 1 + TOL).sort((a, b) => a.finalMin - b.finalMin || a.name.localeCompare(b.name));
}

function belowTargetLines(list: Bottleneck[]): string[] {
  const below = belowTarget(list);
  if (!below.length) return [];
  const constant = below.filter((b) => b.finalMin <= TOL);
  const text = below.map((b) => `\`${b.layer}\` ${ROLE[b.role] ?? b.role} (${b.finalMin.toFixed(2)}${b.finalMin !== b.finalTrue ? ` in its narrowest channel` : ''} of ${b.target})`).join(', ');
  return [
    `**Below the target by a bit or more at the end** (converged, but with capacity lost): ${text}.` +
      (!constant.length ? '' : constant.length === below.length ? ` ${below.length === 1 ? 'It is' : 'All of them are'} at 0 bits: constant output.`
        : ` At 0 bits (constant output): ${constant.map((b) => `\`${b.layer}\` ${ROLE[b.role] ?? b.role}`).join(', ')}.`),
    '',
  ];
}
