// The planned descent against what was measured: for each run, the planned bit-width of the
// weight and activation targets and the largest true bit-width of each group, against the step,
// with the planned step (targets due) and the step they were first met as vertical rules.
import type { TopLevelSpec } from 'vega-lite';
import { Run } from './run';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

interface DescentStep { step: number; w_plan?: number; a_plan?: number; w_true_max?: number; a_true_max?: number }

export interface DescentRun { label: string; run: Run; plannedStep: number | null; reachedStep: number | null }

/** True when the run's step records carry the planned descent (schedule 'planned'). */
export function hasPlan(run: Run): boolean {
  return run.steps.some((s) => typeof (s as DescentStep).w_plan === 'number');
}

export function descentSpec(runs: DescentRun[]): TopLevelSpec {
  const lines: { run: string; step: number; bits: number; series: string }[] = [];
  const gaps: { run: string; step: number; gap: number; group: string }[] = [];
  const marks: { run: string; step: number; what: string }[] = [];
  for (const { label, run, plannedStep, reachedStep } of runs) {
    for (const s of run.steps as DescentStep[]) {
      const add = (v: number | undefined, series: string): void => { if (typeof v === 'number') lines.push({ run: label, step: s.step, bits: v, series }); };
      add(s.w_plan, 'weights: planned');
      add(s.w_true_max, 'weights: measured (max true)');
      add(s.a_plan, 'activations: planned');
      add(s.a_true_max, 'activations: measured (max true)');
      if (typeof s.w_plan === 'number' && typeof s.w_true_max === 'number') gaps.push({ run: label, step: s.step, gap: s.w_true_max - s.w_plan, group: 'weights' });
      if (typeof s.a_plan === 'number' && typeof s.a_true_max === 'number') gaps.push({ run: label, step: s.step, gap: s.a_true_max - s.a_plan, group: 'activations' });
    }
    if (plannedStep !== null) marks.push({ run: label, step: plannedStep, what: 'planned step' });
    if (reachedStep !== null) marks.push({ run: label, step: reachedStep, what: 'reached' });
  }
  if (!lines.length) throw new Error('descentSpec: no step record carries a planned descent (w_plan)');
  const order = ['weights: planned', 'weights: measured (max true)', 'activations: planned', 'activations: measured (max true)'];
  const header = { labelFontSize: 13, labelFontWeight: 'bold' as const };
  const gapPanel = {
    data: { values: gaps },
    facet: { column: { field: 'run', type: 'nominal' as const, title: null, sort: runs.map((r) => r.label), header: { labels: false } } },
    spec: {
      width: 260, height: 110,
      layer: [
        { mark: { type: 'line' as const, strokeWidth: 1.2 }, encoding: {
          x: { field: 'step', type: 'quantitative' as const, title: 'step' },
          y: { field: 'gap', type: 'quantitative' as const, title: 'measured − plan (bits)' },
          color: { field: 'group', type: 'nominal' as const, title: null, scale: { domain: ['weights', 'activations'], range: ['#1f77b4', '#d62728'] }, legend: { orient: 'bottom' as const } },
        } },
        { mark: { type: 'rule' as const, color: '#999' }, encoding: { y: { datum: 0 } } },
      ],
    },
  };
  return {
    $schema: SCHEMA,
    title: { text: 'Planned descent vs measured bit-widths', subtitle: 'top: plan (thick dashed) and the largest true bit-width of each group (thin); rules: planned step (grey), target first met (green). Bottom: measured − plan' },
    vconcat: [{
    data: { values: [...lines, ...marks] },
    facet: { column: { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.label), header } },
    spec: {
      width: 260, height: 200,
      layer: [
        {
          transform: [{ filter: 'isValid(datum.series)' }],
          mark: { type: 'line', strokeWidth: 1.6 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: { field: 'bits', type: 'quantitative', title: 'bits', scale: { domain: [0, 10.5] } },
            color: { field: 'series', type: 'nominal', title: null, sort: order, scale: { domain: order, range: ['#000000', '#1f77b4', '#777777', '#d62728'] }, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
            strokeDash: { field: 'series', type: 'nominal', sort: order, scale: { domain: order, range: [[6, 4], [1, 0], [2, 3], [1, 0]] }, legend: null },
            strokeWidth: { field: 'series', type: 'nominal', sort: order, scale: { domain: order, range: [3, 1.3, 3, 1.3] }, legend: null },
            opacity: { field: 'series', type: 'nominal', sort: order, scale: { domain: order, range: [0.45, 1, 0.45, 0.9] }, legend: null },
          },
        },
        {
          transform: [{ filter: 'isValid(datum.what)' }],
          mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            color: { value: '#888' },
            stroke: { field: 'what', type: 'nominal', scale: { domain: ['planned step', 'reached'], range: ['#888', '#2ca02c'] }, legend: null },
          },
        },
      ],
    },
    }, gapPanel],
    resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
  } as TopLevelSpec;
}
