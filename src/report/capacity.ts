// The paper's "capacity dynamics": every quantized layer's true bit-width against the step, as
// a heatmap (layer × step, colour = true bits), one row of panels per run (weights and
// activations side by side), and beside it how far each layer's true bits lag the planned
// bits, so the layers that hold on to their bits (the bottlenecks) stand out as stripes.
import type { TopLevelSpec } from 'vega-lite';
import { Run, StepRecord, quantizerRole } from './run';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const GROUP: Record<string, string> = { weight: 'weights', bias: 'biases', act: 'activations' };

export interface CapacityRun { label: string; run: Run }

interface Cell { run: string; group: string; layer: string; step: number; step2: number; bits: number; lag: number | null }
interface PlannedStep extends StepRecord { w_plan?: number; a_plan?: number }

function cells(label: string, run: Run): { cells: Cell[]; layers: string[] } {
  const steps = (run.steps as PlannedStep[]).filter((s) => s.layers).sort((a, b) => a.step - b.step);
  const out: Cell[] = [];
  const layers: string[] = [];
  steps.forEach((s, i) => {
    // Each record's cell spans to the next record (the last one as wide as the one before).
    const next = i + 1 < steps.length ? steps[i + 1].step : s.step + (i > 0 ? s.step - steps[i - 1].step : 1);
    for (const [name, b] of Object.entries(s.layers!)) {
      const { layer, role } = quantizerRole(name);
      if (!layers.includes(layer)) layers.push(layer);
      const plan = role === 'act' ? s.a_plan : s.w_plan;
      out.push({ run: label, group: GROUP[role] ?? role, layer, step: s.step, step2: next, bits: b.true, lag: typeof plan === 'number' ? b.true - Math.max(plan, b.target) : null });
    }
  });
  return { cells: out, layers };
}

// Neighbouring cells of a layer that show the same colour (to 0.01 bits) become one: the SVG
// stays small (after the descent most layers hold their width for thousands of steps).
function merged(cs: Cell[], what: 'bits' | 'lag'): Cell[] {
  const out: Cell[] = [];
  const key = (c: Cell): number => Math.round(100 * (what === 'bits' ? c.bits : c.lag!));
  const last = new Map<string, Cell>();
  for (const c of cs) {
    const prev = last.get(c.layer);
    if (prev && prev.step2 === c.step && key(prev) === key(c)) { prev.step2 = c.step2; continue; }
    const copy = { ...c };
    out.push(copy);
    last.set(c.layer, copy);
  }
  return out;
}

export function capacitySpec(runs: CapacityRun[]): TopLevelSpec {
  if (!runs.length) throw new Error('capacitySpec: no run given');
  const rows = runs.map(({ label, run }) => {
    const c = cells(label, run);
    if (!c.cells.length) throw new Error(`${run.dir}: no step record has per-layer bits to plot`);
    return { label, ...c };
  });
  const maxBits = Math.max(...rows.flatMap((r) => r.cells.map((c) => c.bits)));
  const hasLag = rows.some((r) => r.cells.some((c) => c.lag !== null));
  const panel = (r: (typeof rows)[number], group: string, what: 'bits' | 'lag') => ({
    title: { text: `${r.label}: ${group}, ${what === 'bits' ? 'true bits' : 'true − planned bits'}`, fontSize: 12 },
    width: 330, height: Math.max(90, 11 * r.layers.length),
    data: { values: merged(r.cells.filter((c) => c.group === group && (what === 'bits' || c.lag !== null)), what) },
    mark: { type: 'rect' as const, aria: false },
    encoding: {
      x: { field: 'step', type: 'quantitative' as const, title: 'step', scale: { nice: false } },
      x2: { field: 'step2' },
      y: { field: 'layer', type: 'ordinal' as const, title: null, sort: r.layers, axis: { labelFontSize: 9 } },
      color: what === 'bits'
        ? { field: 'bits', type: 'quantitative' as const, title: 'true bits', scale: { scheme: 'viridis', domain: [0, Math.ceil(maxBits)] } }
        : { field: 'lag', type: 'quantitative' as const, title: 'lag (bits)', scale: { scheme: 'redblue', reverse: true, domainMid: 0, domain: [-1, 1], clamp: true } },
    },
  });
  const groups = ['weights', 'activations'];
  return {
    $schema: SCHEMA,
    title: {
      text: 'Capacity dynamics: true bit-width of every quantized layer',
      subtitle: hasLag
        ? ['left: true bits (log2 of the integer levels in use); right: true bits − planned bits (red: the layer lags the plan, a bottleneck)']
        : ['true bits (log2 of the integer levels in use)'],
    },
    // Per run: the bits panels share one colour scale (and legend), the lag panels another.
    vconcat: rows.map((r) => {
      const present = (what: 'bits' | 'lag'): string[] => groups.filter((g) => r.cells.some((c) => c.group === g && (what === 'bits' || c.lag !== null)));
      const part = (what: 'bits' | 'lag') => ({ hconcat: present(what).map((g) => panel(r, g, what)), resolve: { scale: { color: 'shared' } } });
      return { hconcat: [part('bits'), ...(hasLag && present('lag').length ? [part('lag')] : [])], resolve: { scale: { color: 'independent' } } };
    }),
    resolve: { scale: { color: 'independent' } },
    config: { legend: { gradientLength: 80 } },
  } as TopLevelSpec;
}
