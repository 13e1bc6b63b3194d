// A mean bit-width budget end to end on a small synthetic IDX set (1,200 16×16 images): `gdnsq
// quantize --avg-wbits 2 --avg-abits 2` converges with the size-weighted means within the
// budget while the per-layer weight widths differ, the checkpoint carries the integer
// allocation as its targets (its codes lie on those grids), and summary.json, the model card,
// the metrics and `gdnsq info` report the achieved means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadModelFile } from '../../src/train';
import { tmpDir } from '../data/files';
import { gdnsq, writeSyntheticIdx } from '../helpers/synthetic-idx';

const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('quantize --avg-wbits 2 --avg-abits 2: means within the budget, unequal per-layer bits, reported everywhere', () => {
  const data = path.join(dir, 'data');
  writeSyntheticIdx(data, 16, 160);
  const t = gdnsq(['train', '--model', 'smallcnn', '--dataset', 'idx', '--data-dir', data, '--epochs', '8', '--optimizer', 'adam', '--lr', '0.003',
    '--schedule', 'constant', '--no-progress', '--out', path.join(dir, 'fp')]);
  assert.equal(t.status, 0, t.stderr);

  const out = path.join(dir, 'q');
  const q = gdnsq(['quantize', '--teacher', path.join(dir, 'fp', 'best.safetensors'), '--data-dir', data, '--avg-wbits', '2', '--avg-abits', '2',
    '--epochs', '25', '--batch-size', '32', '--start-bits', '6', '--no-progress', '--out', out]);
  assert.equal(q.status, 0, q.stderr);
  const line = JSON.parse(q.stdout.trim().split('\n').pop()!) as { converged: boolean; wbits_mean: number; abits_mean: number };
  assert.equal(line.converged, true);

  // conv2 (4,608 weights, 16×8×8 = 1,024 input elements per sample) and conv3 (9,216 weights, 32×4×4 = 512 elements).
  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
    mean_bits: { w: number; a: number; budget: unknown }; layers: Record<string, { target: number; true: number }>;
  };
  assert.deepEqual(s.mean_bits.budget, { wBits: 2, aBits: 2, maxBits: 8 });
  const L = s.layers;
  const ceil = (k: string): number => Math.ceil(L[k].true - 1e-9);
  const wMean = (4608 * ceil('conv2.weight_quant') + 9216 * ceil('conv3.weight_quant')) / 13824;
  const aMean = (1024 * ceil('conv2.act_quant') + 512 * ceil('conv3.act_quant')) / 1536;
  assert.ok(Math.abs(s.mean_bits.w - wMean) < 1e-4 && Math.abs(s.mean_bits.a - aMean) < 1e-4, `${JSON.stringify(s.mean_bits)} vs ${wMean}, ${aMean}`);
  assert.ok(wMean <= 2 && aMean <= 2, `means W ${wMean} A ${aMean}`);
  assert.equal(line.wbits_mean, s.mean_bits.w);
  // The allocation: integer targets (≤ 8) that the true bits meet, and the two layers' weights at different widths.
  for (const [k, b] of Object.entries(L)) {
    assert.ok(Number.isInteger(b.target) && b.target >= 1 && b.target <= 8 && b.true <= b.target + 1e-9, `${k}: ${JSON.stringify(b)}`);
  }
  assert.notEqual(L['conv2.weight_quant'].target, L['conv3.weight_quant'].target, `per-layer weight bits ${JSON.stringify(L)}`);

  // The checkpoint: its card has the sizes and the achieved means; its codes lie on the allocated grids.
  const ckpt = path.join(out, 'best.safetensors');
  const card = loadModelFile(ckpt).card as unknown as { quant: { options: { budget: unknown }; act_elements: Record<string, number> }; mean_bits: { w: number; a: number } };
  assert.deepEqual(card.quant.act_elements, { conv2: 1024, conv3: 512 });
  assert.deepEqual(card.quant.options.budget, { wBits: 2, aBits: 2 });
  assert.deepEqual([card.mean_bits.w, card.mean_bits.a], [s.mean_bits.w, s.mean_bits.a]);
  const ev = gdnsq(['eval', '--checkpoint', ckpt, '--data-dir', data, '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal((JSON.parse(ev.stdout.trim().split('\n').pop()!) as { on_grid: boolean }).on_grid, true);
  const info = gdnsq(['info', ckpt]);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, new RegExp(`mean bits \\(integer widths; weights by parameters, activations by elements per sample\\): W ${+wMean.toFixed(3)}, A ${+aMean.toFixed(3)} \\(budget: mean W 2, A 2, each ≤ 8\\)`));
  // Every metrics record of the run carries the means.
  const recs = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((x) => JSON.parse(x) as Record<string, unknown>);
  assert.ok(recs.filter((r) => r.kind === 'epoch').every((r) => typeof r.w_mean === 'number' && typeof r.a_mean === 'number'));
});

test('bad budgets on the command line are one line', () => {
  const r = gdnsq(['quantize', '--teacher', 'x.safetensors', '--avg-wbits', '0', '--out', path.join(dir, 'bad')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: option '--avg-wbits <n>' argument '0' is invalid\. --avg-wbits must be a number ≥ 1, got '0'$/m);
});
