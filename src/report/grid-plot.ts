// The results grid as one picture: test top-1 against the bit-width setting for each method
// (GDNSQ, the PTQ and fixed-bit baselines; ablations as single points), the FP teacher as a
// rule, and the deployable model size of each setting in KiB as bars on a second axis. A row run
// with several seeds is drawn at its mean with an error bar of ± one sample sd.
// Pure: result rows in, spec out (the experiment layer passes its results file's rows).
import type { TopLevelSpec } from 'vega-lite';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

export interface GridPlotRow {
  setting: string; method: string; top1: number; model_bytes: number | null; converged: boolean;
  /** Rows run with several seeds: top1 is their mean, top1_sd the sample sd. */
  top1_seeds?: number[]; top1_sd?: number;
}

// Settings from most to fewest bits; anything else goes after them in file order.
const ORDER = ['W8A8', 'W4A4', 'W3A3', 'W2A2', 'W1A32', 'W1A1'];
const METHODS: Record<string, string> = { gdnsq: 'GDNSQ', ptq: 'PTQ (min-max, no training)', fixed: 'fixed-bit QAT (LSQ)' };
const COLORS: Record<string, string> = { GDNSQ: '#1f77b4', 'PTQ (min-max, no training)': '#ff7f0e', 'fixed-bit QAT (LSQ)': '#2ca02c' };

/** `W2A2-fixed` → base `W2A2`, variant `fixed`. */
function split(setting: string): { base: string; variant: string | null } {
  const i = setting.indexOf('-');
  return i < 0 ? { base: setting, variant: null } : { base: setting.slice(0, i), variant: setting.slice(i + 1) };
}

export function gridSpec(rows: GridPlotRow[], title = 'Accuracy against bit-width'): TopLevelSpec {
  const fp = rows.find((r) => r.method === 'fp');
  const quant = rows.filter((r) => r.method !== 'fp');
  if (!quant.length) throw new Error('gridSpec: no quantized row to plot');
  const bases: string[] = [];
  for (const r of quant) { const b = split(r.setting).base; if (!bases.includes(b)) bases.push(b); }
  bases.sort((a, b) => (ORDER.includes(a) ? ORDER.indexOf(a) : 99) - (ORDER.includes(b) ? ORDER.indexOf(b) : 99));
  // A series per method; a GDNSQ row with a variant (W2A2-labels, W2A2-mixed) is an ablation point.
  const points = quant.map((r) => {
    const { base, variant } = split(r.setting);
    const series = METHODS[r.method] ?? r.method;
    const ablation = r.method === 'gdnsq' && variant !== null;
    const n = r.top1_seeds?.length ?? 1, sd = n > 1 ? 100 * (r.top1_sd ?? 0) : 0;
    return {
      setting: base, row: r.setting, series: ablation ? `GDNSQ ablation: ${variant}` : series, line: !ablation, top1: 100 * r.top1, converged: r.converged ? 'yes' : 'no',
      seeds: n, sd, lo: 100 * r.top1 - sd, hi: 100 * r.top1 + sd,
    };
  });
  const withSeeds = points.some((p) => p.seeds > 1);
  const seriesNames = [...new Set(points.map((p) => p.series))];
  const palette = ['#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#d62728'];
  const colors = seriesNames.map((s, i) => COLORS[s] ?? palette[i % palette.length]);
  // Size of a setting: its GDNSQ row when it has one, else its first row with a size.
  const sizes = bases.map((b) => {
    const own = quant.filter((r) => split(r.setting).base === b && r.model_bytes !== null);
    const pick = own.find((r) => r.setting === b) ?? own[0];
    return pick ? { setting: b, kib: pick.model_bytes! / 1024 } : null;
  }).filter((x): x is { setting: string; kib: number } => x !== null);
  // The bars take the lower two thirds, clear of the accuracy points near the top.
  const top = 1.5 * Math.max(1, ...sizes.map((z) => z.kib));
  const x = { field: 'setting', type: 'ordinal' as const, title: 'setting (weight / activation bits)', sort: bases, axis: { labelAngle: 0 }, scale: { type: 'point' as const, padding: 0.6 } };
  const color = { field: 'series', type: 'nominal' as const, title: null, sort: seriesNames, scale: { domain: seriesNames, range: colors }, legend: { orient: 'bottom' as const, columns: 2, labelLimit: 300 } };
  const shape = { field: 'converged', type: 'nominal' as const, title: 'converged', scale: { domain: ['yes', 'no'], range: ['circle', 'cross'] }, legend: { orient: 'bottom' as const } };
  const layers: unknown[] = [
    {
      data: { values: sizes },
      mark: { type: 'bar', color: '#d9d9d9', width: 40 },
      encoding: {
        x, y: { field: 'kib', type: 'quantitative', title: 'model size (KiB, bars)', axis: { orient: 'right', titleColor: '#888', grid: false }, scale: { domain: [0, top] } },
        tooltip: [{ field: 'setting' }, { field: 'kib', format: '.1f' }],
      },
    },
    {
      data: { values: sizes },
      mark: { type: 'text', dy: -6, color: '#777', fontSize: 10 },
      encoding: { x, y: { field: 'kib', type: 'quantitative', axis: null, scale: { domain: [0, top] } }, text: { field: 'kib', type: 'quantitative', format: '.0f' } },
    },
  ];
  // Accuracy lines and points; ablation points stand a little to the right of their setting, so
  // they do not hide the GDNSQ point they are compared with.
  const accuracy = (yScale: Record<string, unknown>, filter: string | null, withFp: boolean, width: number): unknown => ({
    data: { values: points },
    ...(filter ? { transform: [{ filter }] } : {}),
    layer: [
      { transform: [{ filter: 'datum.line' }], mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'top1', type: 'quantitative', scale: yScale }, color } },
      // Error bars (mean ± sd) of the rows with several seeds, under their points, capped by ticks.
      ...(withSeeds ? [true, false].flatMap((main) => {
        const at = { x, ...(main ? {} : { xOffset: { value: 16 } }) };
        const seeded = { filter: `datum.seeds > 1 && ${main ? 'datum.line' : '!datum.line'}` };
        return [
          { transform: [seeded], mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { ...at, y: { field: 'lo', type: 'quantitative', scale: yScale }, y2: { field: 'hi' }, color } },
          ...['lo', 'hi'].map((end) => ({ transform: [seeded], mark: { type: 'tick', orient: 'horizontal', size: 10, thickness: 1.5 }, encoding: { ...at, y: { field: end, type: 'quantitative', scale: yScale }, color } })),
        ];
      }) : []),
      ...[true, false].map((main) => ({
        transform: [{ filter: main ? 'datum.line' : '!datum.line' }],
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x, ...(main ? {} : { xOffset: { value: 16 } }), y: { field: 'top1', type: 'quantitative', title: 'test top-1 (%)', scale: yScale }, color, shape,
          tooltip: [{ field: 'row' }, { field: 'top1', format: '.2f' }, ...(withSeeds ? [{ field: 'sd', format: '.2f' }, { field: 'seeds' }] : []), { field: 'converged' }],
        },
      })),
      ...(fp && withFp ? [
        { data: { values: [{ y: 100 * fp.top1 }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#333' }, encoding: { y: { field: 'y', type: 'quantitative', scale: yScale } } },
        {
          data: { values: [{ y: 100 * fp.top1, label: `FP teacher ${(100 * fp.top1).toFixed(2)}%${fp.model_bytes ? `, ${(fp.model_bytes / 1024).toFixed(0)} KiB` : ''}` }] },
          // Right-aligned under the rule: clear of the axis labels and of the points at the left.
          mark: { type: 'text', align: 'right', baseline: 'top', dx: -4, dy: 3, color: '#333' },
          encoding: { y: { field: 'y', type: 'quantitative', scale: yScale }, x: { value: width }, text: { field: 'label' } },
        },
      ] : []),
    ],
  });
  const overview = { title: 'all rows, with model size', width: 420, height: 300, layer: [...layers, accuracy({ domain: [0, 100] }, null, true, 420)], resolve: { scale: { y: 'independent' } } };
  // The rows within 10 points of the teacher, on a finer scale.
  const near = fp ? 100 * fp.top1 - 10 : 85;
  const zoomed = points.filter((p) => p.top1 >= near);
  const zoom = zoomed.length
    ? [{ title: `rows above ${near.toFixed(1)}% (FP − 10 pt), zoomed`, width: 300, height: 300, layer: [accuracy({ zero: false, nice: true }, `datum.top1 >= ${near}`, true, 300)] }]
    : [];
  return {
    $schema: SCHEMA,
    title: {
      text: title,
      // A second line, not a longer first one: the title's estimated text width sets the figure's.
      subtitle: ['points: test top-1 of each row (left axis); bars: deployable size of the setting (right axis)', ...(withSeeds ? ['a row with several seeds: their mean, error bar ± 1 sample sd'] : [])],
    },
    hconcat: [overview, ...zoom],
    resolve: { scale: { color: 'shared', shape: 'shared' } },
  } as TopLevelSpec;
}
