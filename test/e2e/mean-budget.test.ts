// A mean bit-width budget end to end on a small synthetic IDX set (1,200 16×16 images): `gdnsq
// quantize --avg-wbits 2 --avg-abits 2` converges with the size-weighted means within the
// budget while the per-layer weight widths differ, the checkpoint carries the integer
// allocation as its targets (its codes lie on those grids), and summary.json, the model card,
// the metrics and `gdnsq info` report the achieved means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { loadModelFile } from '../../src/train';
import { idxBytes, writeFile, tmpDir } from '../data/files';

const bin = path.join(packageRoot, 'bin', 'gdnsq');
const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Class k: a fixed random 16×16 prototype plus pixel noise and a random shift of brightness.
function images(n: number, seed: number): { x: Uint8Array; y: Uint8Array } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const protos = Array.from({ length: 10 }, (_, k) => { let t = 1000 + k; return Array.from({ length: 256 }, () => { t = (Math.imul(t, 1664525) + 1013904223) >>> 0; return t >>> 24; }); });
  const x = new Uint8Array(n * 256), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 10);
    y[i] = k;
    const shift = (r() - 0.5) * 60;
    for (let j = 0; j < 256; j++) x[i * 256 + j] = Math.max(0, Math.min(255, Math.round(protos[k][j] + shift + (r() - 0.5) * 160)));
  }
  return { x, y };
}

const gdnsq = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GDNSQ_THREADS: '1' } });

test('quantize --avg-wbits 2 --avg-abits 2: means within the budget, unequal per-layer bits, reported everywhere', () => {
  const data = path.join(dir, 'data');
  const tr = images(1200, 1), te = images(300, 2);
  writeFile(data, 'train-images-idx3-ubyte', idxBytes(0x803, [1200, 16, 16], tr.x));
  writeFile(data, 'train-labels-idx1-ubyte', idxBytes(0x801, [1200], tr.y));
  writeFile(data, 't10k-images-idx3-ubyte', idxBytes(0x803, [300, 16, 16], te.x));
  writeFile(data, 't10k-labels-idx1-ubyte', idxBytes(0x801, [300], te.y));
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
