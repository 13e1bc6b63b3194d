// Early stopping and best-checkpoint selection with scripted metrics: patience counts epochs
// without a strict improvement (only those the patienceActive hook lets count), ties keep the
// earlier checkpoint, and a plateau stops the run exactly `patience` epochs after its best.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, F, scope } from '../../src/engine';
import { Linear } from '../../src/nn';
import { SGD } from '../../src/optim';
import { Trainer, loadModelFile } from '../../src/train';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

// One batch of 4 points per epoch; the data matter only as something to train on.
const source = {
  batchesPerEpoch: 1,
  *epoch(): Iterable<{ x: Tensor; y: Tensor; size: number }> {
    yield { x: Tensor.from([1, 0, 0, 1, 1, 1, 0, 0], [4, 2]), y: Tensor.from([0, 1, 1, 0], [4], 'int64'), size: 4 };
  },
};

/** Runs up to `epochs` epochs whose metrics are `metrics`; returns epochs run, best epoch (1-based) and the best file's epoch. */
async function run(metrics: number[], patience: number | undefined, countFrom = 0): Promise<{ ran: number; best: number; bestFileEpoch: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-early-'));
  dirs.push(dir);
  const model = new Linear(2, 2);
  const trainer = new Trainer({
    model, optimizer: new SGD(model.parameters(), { lr: 0.1 }), train: source, epochs: metrics.length, outDir: dir,
    card: { model: 'linear', args: {}, dataset: 'none', normalize: { mean: [0], std: [1] } }, patience, progress: false,
    hooks: {
      loss: (b) => { const logits = model.forward(b.x); return { loss: F.crossEntropy(logits, b.y), logits }; },
      metric: (s) => metrics[s.epoch],
      patienceActive: (s) => s.epoch >= countFrom,
    },
  });
  const res = await trainer.fit();
  const card = scope(() => loadModelFile(trainer.bestPath).card);
  model.dispose();
  return { ran: res.state.epoch, best: res.bestEpoch + 1, bestFileEpoch: card.epoch as number };
}

test('patience p stops exactly p epochs after the last strict improvement', async () => {
  assert.deepEqual(await run([0.5, 0.6, 0.4, 0.4, 0.3, 0.9], 2), { ran: 4, best: 2, bestFileEpoch: 2 });
  assert.deepEqual(await run([0.5, 0.6, 0.4, 0.7, 0.3, 0.2, 0.9], 2), { ran: 6, best: 4, bestFileEpoch: 4 });
  assert.deepEqual(await run([0.5, 0.4], 1), { ran: 2, best: 1, bestFileEpoch: 1 });
  assert.deepEqual(await run([0.1, 0.2, 0.3], undefined), { ran: 3, best: 3, bestFileEpoch: 3 });
});

test('ties keep the earlier best checkpoint and count as no improvement (plateau)', async () => {
  assert.deepEqual(await run([0.5, 0.5, 0.5, 0.9], 2), { ran: 3, best: 1, bestFileEpoch: 1 });
  assert.deepEqual(await run([0.3, 0.5, 0.5, 0.6], 3), { ran: 4, best: 4, bestFileEpoch: 4 });
});

test('patience counts only from the epoch patienceActive allows (GDNSQ: the first converged one)', async () => {
  // Four unconverged epochs (metric 0) then convergence: with patience 2 the run must not stop early.
  assert.deepEqual(await run([0, 0, 0, 0, 0.8, 0.7, 0.7, 0.9], 2, 4), { ran: 7, best: 5, bestFileEpoch: 5 });
  // Without the rule the same metrics stop after epoch 3 (the old behaviour, patience + 1 epochs).
  assert.deepEqual(await run([0, 0, 0, 0, 0.8, 0.7, 0.7, 0.9], 2, 0), { ran: 3, best: 1, bestFileEpoch: 1 });
});
