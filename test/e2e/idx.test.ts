// A new user's own small IDX data set (the case: 1,200 training images of 8×8 pixels,
// 10 classes): `gdnsq train` and `gdnsq quantize` run with their defaults (validation 10% of
// the training set, no flips for generic IDX data, warm-up in proportion, the planned descent)
// and reach true W2A2 near the planned step; a budget too short is refused before training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { idxBytes, writeFile, tmpDir } from '../data/files';

const bin = path.join(packageRoot, 'bin', 'gdnsq');
const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Class k: a fixed random 8×8 prototype plus pixel noise and a random shift of brightness.
function images(n: number, seed: number): { x: Uint8Array; y: Uint8Array } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const protos = Array.from({ length: 10 }, (_, k) => { let t = 1000 + k; return Array.from({ length: 64 }, () => { t = (Math.imul(t, 1664525) + 1013904223) >>> 0; return (t >>> 24); }); });
  const x = new Uint8Array(n * 64), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 10);
    y[i] = k;
    const shift = (r() - 0.5) * 60;
    for (let j = 0; j < 64; j++) x[i * 64 + j] = Math.max(0, Math.min(255, Math.round(protos[k][j] + shift + (r() - 0.5) * 120)));
  }
  return { x, y };
}

const gdnsq = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GDNSQ_THREADS: '1' } });

test('train + quantize on a 1,200-image 8×8 IDX data set with the defaults: true W2A2, reached near the plan', () => {
  const data = path.join(dir, 'data');
  const tr = images(1200, 1), te = images(300, 2);
  writeFile(data, 'train-images-idx3-ubyte', idxBytes(0x803, [1200, 8, 8], tr.x));
  writeFile(data, 'train-labels-idx1-ubyte', idxBytes(0x801, [1200], tr.y));
  writeFile(data, 't10k-images-idx3-ubyte', idxBytes(0x803, [300, 8, 8], te.x));
  writeFile(data, 't10k-labels-idx1-ubyte', idxBytes(0x801, [300], te.y));

  const t = gdnsq(['train', '--model', 'smallcnn', '--dataset', 'idx', '--data-dir', data, '--epochs', '15', '--optimizer', 'adam', '--lr', '0.003',
    '--schedule', 'constant', '--no-progress', '--out', path.join(dir, 'fp')]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stderr, /1080 train \/ 120 val images/);
  const fp = JSON.parse(t.stdout.trim().split('\n').pop()!) as { test_top1: number };
  assert.ok(fp.test_top1 > 0.8, `FP ${fp.test_top1}`);

  const teacher = path.join(dir, 'fp', 'best.safetensors');
  // 9 steps per epoch: 10 epochs cannot descend 8 bits; said before any training.
  const short = gdnsq(['quantize', '--teacher', teacher, '--data-dir', data, '--epochs', '10', '--no-progress', '--out', path.join(dir, 'short')]);
  assert.equal(short.status, 1);
  assert.match(short.stderr, /^gdnsq: budget too short: /m);
  assert.equal(short.stderr.trim().split('\n').filter((l) => l.startsWith('gdnsq:')).length, 1);
  assert.ok(!fs.existsSync(path.join(dir, 'short', 'metrics.jsonl')), 'no training happened');

  const q = gdnsq(['quantize', '--teacher', teacher, '--data-dir', data, '--wbits', '2', '--abits', '2', '--epochs', '60', '--no-progress', '--out', path.join(dir, 'q')]);
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stderr, /plan: 540 steps \(60\.0 epochs × 9 steps\)/);
  const s = JSON.parse(q.stdout.trim().split('\n').pop()!) as { converged: boolean; wbits_max: number; abits_max: number; quant_top1: number; fp_top1: number; planned_step: number; reached_step: number };
  assert.equal(s.converged, true);
  assert.ok(s.wbits_max <= 2 && s.abits_max <= 2);
  assert.equal(s.planned_step, 216);
  assert.ok(s.reached_step !== null && Math.abs(s.reached_step - 216) <= 0.1 * 216, `reached at ${s.reached_step}, planned 216`);
  assert.ok(s.quant_top1 > s.fp_top1 - 0.15, `W2A2 ${s.quant_top1} vs FP ${s.fp_top1}`);
  // No flips for generic IDX data unless asked.
  const card = JSON.parse(fs.readFileSync(path.join(dir, 'q', 'summary.json'), 'utf8')) as { settings: { augment: { hflip: boolean } } };
  assert.equal(card.settings.augment.hflip, false);
});
