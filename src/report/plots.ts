// Vega-Lite specs of a run's curves (pure: records in, spec out) and their headless SVG
// rendering. Vega 5 is used because its CommonJS build fits this CommonJS project; rendering
// with renderer 'none' needs no canvas (text widths are estimated).
import type { TopLevelSpec } from 'vega-lite';
import type { NonNormalizedSpec } from 'vega-lite/build/src/spec';
import type { LayerSpec } from 'vega-lite/build/src/spec/layer';
import type { Field } from 'vega-lite/build/src/channeldef';
import { Run, LayerBits, quantizerRole } from './run';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const PANEL = { width: 300, height: 200 };

interface Point { x: number; y: number; series: string }
// `right`: label at the right end, so two close rules keep their labels apart.
interface Rule { y: number; label: string; right?: boolean }

const ROLE_GROUP: Record<string, string> = { weight: 'weights', bias: 'biases', act: 'activations' };

// One line chart; `rules` are labelled horizontal reference lines (e.g. the test accuracies).
function linePanel(title: string, xTitle: string, yTitle: string, points: Point[], rules: Rule[] = []): NonNormalizedSpec {
  const series = [...new Set(points.map((p) => p.series))];
  const layers: LayerSpec<Field>['layer'] = [{
    data: { values: points },
    mark: { type: 'line', point: points.length <= 60 },
    encoding: {
      // Epochs are whole numbers: no 1.4, 1.8 ticks on short runs.
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: { zero: false }, axis: xTitle === 'epoch' ? { tickMinStep: 1, format: 'd' } : {} },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: series, legend: series.length > 1 ? { orient: 'bottom' } : null },
    },
  }];
  if (rules.length) {
    layers.push({ data: { values: rules }, mark: { type: 'rule', strokeDash: [6, 4], color: '#555' }, encoding: { y: { field: 'y', type: 'quantitative' } } });
    for (const right of [false, true]) {
      const side = rules.filter((r) => !!r.right === right);
      if (side.length) layers.push({
        data: { values: side }, mark: { type: 'text', align: right ? 'right' : 'left', baseline: 'bottom', dx: right ? -3 : 3, dy: -2, color: '#555' },
        encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: right ? PANEL.width : 0 }, text: { field: 'label' } },
      });
    }
  }
  return { title, ...PANEL, layer: layers };
}

function concat(title: string, panels: NonNormalizedSpec[]): TopLevelSpec {
  return { $schema: SCHEMA, title, hconcat: panels, resolve: { scale: { color: 'independent' } } };
}

const pct = (x: number): number => 100 * x;

function epochSeries(run: Run, field: 'train_top1' | 'val_top1' | 'train_loss' | 'val_loss', series: string, scale = (x: number) => x): Point[] {
  return run.epochs.filter((e) => typeof e[field] === 'number').map((e) => ({ x: e.epoch, y: scale(e[field] as number), series }));
}

/**
 * Quantize runs: the true bit-width of every quantizer against the step, one facet per role
 * (weights, activations), one colour per layer, the target as a dashed rule.
 */
export function bitsSpec(run: Run): TopLevelSpec {
  const byStep = new Map<number, Record<string, LayerBits>>();
  for (const r of [...run.steps, ...run.epochs]) if (r.layers) byStep.set(r.step, r.layers);
  if (!byStep.size) throw new Error(`${run.dir}: no record has per-layer bits to plot`);
  const values: { step: number; group: string; layer: string; bits: number; target: number }[] = [];
  const layers: string[] = [];
  for (const step of [...byStep.keys()].sort((a, b) => a - b)) {
    for (const [name, b] of Object.entries(byStep.get(step)!)) {
      const { layer, role } = quantizerRole(name);
      if (!layers.includes(layer)) layers.push(layer);
      values.push({ step, group: ROLE_GROUP[role] ?? role, layer, bits: b.true, target: b.target });
    }
  }
  const groups = Object.values(ROLE_GROUP).filter((g) => values.some((v) => v.group === g));
  return {
    $schema: SCHEMA,
    title: { text: 'True bit-width per quantized layer', subtitle: 'log2 of the integer levels in use; dashed: target' },
    data: { values },
    facet: { column: { field: 'group', type: 'nominal', title: null, sort: groups, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: {
      ...PANEL,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 1.5 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: { field: 'bits', type: 'quantitative', title: 'true bits', scale: { zero: false } },
            color: { field: 'layer', type: 'nominal', title: 'layer', sort: layers, scale: { scheme: layers.length > 10 ? 'tableau20' : 'tableau10' } },
          },
        },
        { mark: { type: 'rule', strokeDash: [6, 4], color: 'black' }, encoding: { y: { aggregate: 'max', field: 'target', type: 'quantitative' } } },
      ],
    },
  };
}

/**
 * Quantize runs: top-1 per epoch (the FP teacher's as a rule), task loss, penalty (P_w, P_a) and
 * temperature per logged step. Train runs: loss and top-1 per epoch, train against validation.
 */
export function trainingSpec(run: Run): TopLevelSpec {
  if (run.kind === 'train') {
    return concat('Training', [
      linePanel('Loss', 'epoch', 'cross-entropy', [...epochSeries(run, 'train_loss', 'train'), ...epochSeries(run, 'val_loss', 'validation')]),
      linePanel('Top-1 accuracy', 'epoch', 'top-1 (%)', [...epochSeries(run, 'train_top1', 'train', pct), ...epochSeries(run, 'val_top1', 'validation', pct)]),
    ]);
  }
  const s = run.summary;
  const rules: Rule[] = [];
  if (s?.fp_top1 !== undefined) rules.push({ y: pct(s.fp_top1), label: `FP teacher (test) ${pct(s.fp_top1).toFixed(2)}%` });
  if (s?.quant_top1 !== undefined) rules.push({ y: pct(s.quant_top1), label: `quantized (test) ${pct(s.quant_top1).toFixed(2)}%`, right: true });
  const panels = [linePanel('Top-1 accuracy', 'epoch', 'top-1 (%)',
    [...epochSeries(run, 'train_top1', 'train (noisy)', pct), ...epochSeries(run, 'val_top1', 'validation', pct)], rules)];
  const steps = [...run.steps].sort((a, b) => a.step - b.step);
  const stepPoints = (f: 'loss' | 't' | 'tw' | 'ta' | 'pw' | 'pa', series: string): Point[] => steps.filter((s) => typeof s[f] === 'number').map((s) => ({ x: s.step, y: s[f] as number, series }));
  const loss = stepPoints('loss', 'task loss');
  // The planned descent steers one temperature per group (tw, ta); the reference schedule has t.
  const split = steps.some((x) => typeof x.tw === 'number');
  const temp = split ? [...stepPoints('tw', 'weights t_w'), ...stepPoints('ta', 'activations t_a')] : stepPoints('t', 'temperature t');
  if (loss.length) panels.push(linePanel('Task (distillation) loss', 'step', 'loss', loss));
  // The penalty: mean violation of each group (bits above the planned target), before its temperature.
  const penalty = [...stepPoints('pw', 'weights P_w'), ...stepPoints('pa', 'activations P_a')];
  if (penalty.length) panels.push(linePanel('Bit-width penalty', 'step', 'mean excess bits', penalty));
  if (temp.length) panels.push(linePanel('Penalty temperature', 'step', 't', temp));
  return concat('GDNSQ fine-tuning', panels);
}

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: the plotting stack is only needed by `gdnsq report`.
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
