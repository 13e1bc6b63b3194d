// The grid plot, the capacity-dynamics heatmap and the PNG rasterizer: what each spec draws
// (its data, from result rows or step records), and that the PNG is the SVG's picture at twice
// its size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readRun, gridSpec, capacitySpec, renderSvg, svgToPng } from '../../src/report';
import { tempDir } from './fixtures';

const dir = tempDir('figures');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const rows = [
  { setting: 'FP', method: 'fp', top1: 0.95, model_bytes: 1024 * 1000, converged: true },
  { setting: 'W2A2-ptq', method: 'ptq', top1: 0.2, model_bytes: 1024 * 130, converged: true },
  { setting: 'W4A4-ptq', method: 'ptq', top1: 0.93, model_bytes: 1024 * 190, converged: true },
  { setting: 'W2A2', method: 'gdnsq', top1: 0.936, model_bytes: 1024 * 129, converged: true },
  { setting: 'W2A2-mixed', method: 'gdnsq', top1: 0.94, model_bytes: 1024 * 128, converged: true },
  { setting: 'W1A1', method: 'gdnsq', top1: 0.7, model_bytes: null, converged: false },
];

type Layered = { hconcat: { layer: { data?: { values: Record<string, unknown>[] }; layer?: unknown[] }[] }[] };

test('grid plot: settings from most to fewest bits, a series per method, ablations apart, sizes of the GDNSQ row', async () => {
  const spec = gridSpec(rows, 'T') as unknown as Layered;
  const [overview, zoom] = spec.hconcat;
  const sizes = overview.layer[0].data!.values;
  assert.deepEqual(sizes, [{ setting: 'W4A4', kib: 190 }, { setting: 'W2A2', kib: 129 }]);
  const points = overview.layer[2].data!.values;
  assert.deepEqual(points.map((p) => [p.row, p.setting, p.series, p.line]), [
    ['W2A2-ptq', 'W2A2', 'PTQ (min-max, no training)', true], ['W4A4-ptq', 'W4A4', 'PTQ (min-max, no training)', true],
    ['W2A2', 'W2A2', 'GDNSQ', true], ['W2A2-mixed', 'W2A2', 'GDNSQ ablation: mixed', false], ['W1A1', 'W1A1', 'GDNSQ', true],
  ]);
  assert.ok(zoom, 'a zoomed panel for the rows near the teacher');
  const svg = await renderSvg(gridSpec(rows, 'T'));
  for (const text of ['>W4A4<', '>W2A2<', '>W1A1<', '>model size (KiB, bars)<', '>test top-1 (%)<', 'FP teacher 95.00%, 1000 KiB', '>GDNSQ ablation: mixed<']) {
    assert.ok(svg.includes(text), `grid plot lacks ${text}`);
  }
  assert.ok(svg.indexOf('>W4A4<') < svg.indexOf('>W2A2<') && svg.indexOf('>W2A2<') < svg.indexOf('>W1A1<'), 'settings out of order');
  assert.throws(() => gridSpec([rows[0]]), /^Error: gridSpec: no quantized row to plot$/);
});

test('grid plot: a row with several seeds at its mean with an error bar of ± 1 sd; none without seeds', async () => {
  type Sub = { transform?: { filter: string }[]; mark: { type: string }; encoding: Record<string, { field?: string }> };
  const marks = (spec: unknown): Sub[] => ((spec as Layered).hconcat[0].layer[2].layer as Sub[]);
  const seeded = rows.map((r) => (r.setting === 'W2A2' ? { ...r, top1: 0.93, top1_seeds: [0.92, 0.93, 0.94], top1_sd: 0.01 } : r));
  const spec = gridSpec(seeded, 'T');
  const points = (spec as unknown as Layered).hconcat[0].layer[2].data!.values;
  const w2a2 = points.find((p) => p.row === 'W2A2')!;
  assert.deepEqual([w2a2.seeds, w2a2.lo, w2a2.hi].map((v) => Math.round(Number(v) * 1e6) / 1e6), [3, 92, 94]);
  assert.deepEqual(points.filter((p) => p.row !== 'W2A2').map((p) => p.sd), [0, 0, 0, 0]);
  const bars = marks(spec).filter((m) => (m.mark.type === 'rule' || m.mark.type === 'tick') && m.transform);
  assert.deepEqual(bars.map((m) => [m.mark.type, m.encoding.y.field, m.transform![0].filter]), [
    ['rule', 'lo', 'datum.seeds > 1 && datum.line'], ['tick', 'lo', 'datum.seeds > 1 && datum.line'], ['tick', 'hi', 'datum.seeds > 1 && datum.line'],
    ['rule', 'lo', 'datum.seeds > 1 && !datum.line'], ['tick', 'lo', 'datum.seeds > 1 && !datum.line'], ['tick', 'hi', 'datum.seeds > 1 && !datum.line'],
  ]);
  assert.ok(marks(gridSpec(rows, 'T')).every((m) => m.mark.type !== 'tick') && marks(gridSpec(rows, 'T')).filter((m) => m.mark.type === 'rule').length === 1, 'only the FP rule');
  const svg = await renderSvg(spec);
  assert.ok(svg.includes('a row with several seeds: their mean, error bar ± 1 sample sd') && !(await renderSvg(gridSpec(rows, 'T'))).includes('several seeds'));
  // The note is a second subtitle line: the figure is as wide as without it.
  const width = (x: string): string => /^<svg[^>]* width="([\d.]+)"/.exec(x)![1];
  assert.equal(width(svg), width(await renderSvg(gridSpec(rows, 'T'))));
});

test('capacity heatmap: a cell per quantizer and record (equal neighbours merged), lag against the plan', async () => {
  const d = path.join(dir, 'q');
  fs.mkdirSync(d, { recursive: true });
  const rec = (step: number, plan: number, w: number, a: number): object => ({
    kind: 'step', step, tw: 1, ta: 1, w_plan: plan, a_plan: plan,
    layers: { 'l1.weight_quant': { target: 2, bits: w, true: w }, 'l1.act_quant': { target: 2, bits: a, true: a } },
  });
  fs.writeFileSync(path.join(d, 'metrics.jsonl'), [rec(1, 8, 8, 8), rec(50, 4, 5, 4), rec(100, 2, 5, 2), rec(150, 2, 2, 2)].map((r) => `${JSON.stringify(r)}\n`).join(''));
  const spec = capacitySpec([{ label: 'R', run: readRun(d) }]) as unknown as { vconcat: { hconcat: { hconcat: { data: { values: Record<string, unknown>[] } }[] }[] }[] };
  const [bits, lag] = spec.vconcat[0].hconcat;
  const [wBits, aBits] = bits.hconcat.map((p) => p.data.values.map((c) => [c.step, c.step2, c.bits]));
  // Weights 8, 5, 5, 2: the two 5-bit records are one cell spanning steps 50–150; the last cell is as wide as the one before.
  assert.deepEqual(wBits, [[1, 50, 8], [50, 150, 5], [150, 200, 2]]);
  assert.deepEqual(aBits, [[1, 50, 8], [50, 100, 4], [100, 200, 2]]);
  // Lag: true − max(plan, target): weights 0, 1, 3, 0.
  assert.deepEqual(lag.hconcat[0].data.values.map((c) => [c.step, c.lag]), [[1, 0], [50, 1], [100, 3], [150, 0]]);
  const svg = await renderSvg(spec as never);
  for (const text of ['R: weights, true bits', 'R: activations, true − planned bits', '>l1<', '>lag (bits)<']) assert.ok(svg.includes(text), `capacity plot lacks ${text}`);
});

test('svgToPng: a PNG at twice the SVG size; a bad scale is refused', async () => {
  const svg = await renderSvg(gridSpec(rows, 'T'));
  const png = svgToPng(svg);
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
  // IHDR: width and height as big-endian 32-bit integers at bytes 16 and 20.
  const w = Number(/^<svg[^>]* width="(\d+(?:\.\d+)?)"/.exec(svg)![1]), h = Number(/^<svg[^>]* height="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [Math.round(2 * w), Math.round(2 * h)]);
  assert.throws(() => svgToPng(svg, 0), /^Error: svgToPng: scale must be a positive number, got 0$/);
});
