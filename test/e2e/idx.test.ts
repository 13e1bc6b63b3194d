// A new user's own small IDX data set (the case: 1,260 training images of 8×8 pixels
// after the 10% validation split, 10 classes): `gdnsq train` and `gdnsq quantize` with their
// defaults (validation 10% of the training set, no flips for generic IDX data, warm-up in
// proportion, the planned descent). The budget fits the data: a plan with too few steps at the
// default batch gets a smaller batch (and says so), only a budget no batch can carry is refused,
// once and before any worker starts; W2A2 in 30 epochs converges within 3 pt of FP, and batch
// sizes 32, 64 and 128 (4× the steps between them) end within 1.5 pt of each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from '../data/files';
import { gdnsq, writeSyntheticIdx } from '../helpers/synthetic-idx';

const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface QuantizeResult { converged: boolean; wbits_max: number; abits_max: number; quant_top1: number; fp_top1: number; planned_step: number; reached_step: number | null }
const last = (stdout: string): QuantizeResult => JSON.parse(stdout.trim().split('\n').pop()!) as QuantizeResult;

test('a 1,260-image 8×8 IDX set: budgets fit the data, W2A2 converges, batch sizes agree', () => {
  const data = path.join(dir, 'data');
  // 2,000 test images: one image is 0.05 pt, so the 1.5 pt spread below is not test-set noise.
  writeSyntheticIdx(data, 8, 120, 1400, 2000);
  const t = gdnsq(['train', '--model', 'smallcnn', '--dataset', 'idx', '--data-dir', data, '--epochs', '15', '--optimizer', 'adam', '--lr', '0.003',
    '--schedule', 'constant', '--no-progress', '--out', path.join(dir, 'fp')]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stderr, /1260 train \/ 140 val images/);
  const fp = JSON.parse(t.stdout.trim().split('\n').pop()!) as { test_top1: number };
  assert.ok(fp.test_top1 > 0.9, `FP ${fp.test_top1}`);
  const teacher = path.join(dir, 'fp', 'best.safetensors');
  const quantize = (out: string, args: string[]) => gdnsq(['quantize', '--teacher', teacher, '--data-dir', data, '--wbits', '2', '--abits', '2', '--no-progress', '--out', path.join(dir, out), ...args]);

  // One epoch: no batch from 128 down to 8 has the steps to descend 8 bits. Refused in one
  // line, before training; with --nproc 2 before any worker starts (no rank's line).
  for (const extra of [[], ['--nproc', '2']]) {
    const short = quantize(`short${extra.length}`, ['--epochs', '1', ...extra]);
    assert.equal(short.status, 1, short.stderr);
    const lines = short.stderr.trim().split('\n');
    assert.equal(lines.length, 1, short.stderr);
    assert.match(lines[0], /^gdnsq: budget too short: .*\(no batch size from 128 down to 8 makes it workable\)$/);
    assert.ok(!fs.existsSync(path.join(dir, `short${extra.length}`, 'metrics.jsonl')), 'no training happened');
  }

  // Ten epochs: 100 steps at batch 128 are too few; a smaller batch is chosen and named.
  const ten = quantize('ten', ['--epochs', '10']);
  assert.equal(ten.status, 0, ten.stderr);
  assert.match(ten.stderr, /^batch (64|32|16|8) \(not 128\): 1260 training images give 10 steps an epoch at 128, too few for the descent in 10 epochs$/m);
  assert.equal(last(ten.stdout).converged, true);

  // Thirty epochs with the defaults (batch 128, 300 steps), then 32, 64 and 128 given.
  const runs = new Map<string, QuantizeResult>();
  for (const b of ['default', '32', '64', '128']) {
    const q = quantize(`q-${b}`, ['--epochs', '30', ...(b === 'default' ? [] : ['--batch-size', b])]);
    assert.equal(q.status, 0, q.stderr);
    const s = last(q.stdout);
    assert.equal(s.converged, true, `batch ${b} converged`);
    assert.ok(s.wbits_max <= 2 && s.abits_max <= 2);
    assert.ok(s.quant_top1 >= s.fp_top1 - 0.03, `batch ${b}: W2A2 ${s.quant_top1} vs FP ${s.fp_top1}`);
    runs.set(b, s);
  }
  assert.match(fs.readFileSync(path.join(dir, 'q-default', 'summary.json'), 'utf8'), /"batchSize": 128/);
  const top1 = ['32', '64', '128'].map((b) => runs.get(b)!.quant_top1);
  assert.ok(Math.max(...top1) - Math.min(...top1) <= 0.015, `batch 32/64/128: ${top1.join(', ')}`);
  // No flips for generic IDX data unless asked.
  const card = JSON.parse(fs.readFileSync(path.join(dir, 'q-default', 'summary.json'), 'utf8')) as { settings: { augment: { hflip: boolean } } };
  assert.equal(card.settings.augment.hflip, false);
});
