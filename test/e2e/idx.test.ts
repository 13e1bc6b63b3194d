// A new user's own small IDX data set (the case: 1,200 training images of 8×8 pixels,
// 10 classes): `gdnsq train` and `gdnsq quantize` run with their defaults (validation 10% of
// the training set, no flips for generic IDX data, warm-up in proportion, the planned descent)
// and reach true W2A2 near the planned step; a budget too short is refused before training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from '../data/files';
import { gdnsq, writeSyntheticIdx } from '../helpers/synthetic-idx';

const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('train + quantize on a 1,200-image 8×8 IDX data set with the defaults: true W2A2, reached near the plan', () => {
  const data = path.join(dir, 'data');
  writeSyntheticIdx(data, 8, 120);

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
