// The reference κ-schedule in the library recipe: the temperature stays 0 through the run's own
// warm-up (warmupSteps, default 5% of the run) and then grows by lr·κ per step — not after the
// objective's stand-alone default of 1000 steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { manualSeed } from '../../src/engine';
import { createModel } from '../../src/models';
import { ImageDataset } from '../../src/data';
import { finetune } from '../../src/train';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-kappa-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function synthetic(n: number, seed: number): ImageDataset {
  const images = new Uint8Array(n * 64);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + seed * 11) % 251;
  return { images, labels: new Int32Array(n).map((_, i) => (i + seed) % 10), n, channels: 1, height: 8, width: 8, numClasses: 10 };
}

test('schedule kappa: t is 0 through the warm-up steps, then grows by lr·κ per step', async () => {
  manualSeed(3);
  const teacher = createModel('smallcnn', { inChannels: 1, numClasses: 10 });
  teacher.eval();
  const card = { model: 'smallcnn', args: { ...teacher.config }, dataset: 'synthetic', normalize: { mean: [0.5], std: [0.25] } };
  const lr = 1e-3, kappa = 2, warmupSteps = 4;
  await finetune({
    teacher, teacherCard: card, train: synthetic(64, 1), val: synthetic(16, 2), epochs: 2, batchSize: 16, schedule: 'kappa',
    quantize: { wBits: 4, aBits: 4 }, warmupSteps, lr, kappa, startBits: 6, calibBatches: 1, seed: 0, outDir: dir, progress: false, logEvery: 1, onMessage: () => {},
  });
  const steps = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number; t: number })
    .filter((r) => r.kind === 'step');
  assert.equal(steps.length, 8);
  for (const r of steps) {
    const want = Math.max(0, r.step - warmupSteps) * lr * kappa;
    assert.ok(Math.abs(r.t - want) < 1e-9, `step ${r.step}: t = ${r.t}, want ${want}`);
  }
  teacher.dispose();
});
