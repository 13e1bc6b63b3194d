// The time-budget probe: it times real steps and leaves no trace (parameters, BatchNorm
// statistics, gradients, the objective's running mean and the generator are as before), and it
// turns a budget into epochs or refuses one too short for a single epoch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, manualSeed, getRngState } from '../../src/engine';
import { createModel } from '../../src/models';
import { quantize, calibrate, GdnsqObjective, BudgetError } from '../../src/quant';
import { BatchLoader, ImageDataset } from '../../src/data';
import { probeEpochs, chooseBatchSize } from '../../src/train';

function dataset(n: number): ImageDataset {
  const images = new Uint8Array(n * 64);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 251;
  const labels = new Int32Array(n).map((_, i) => i % 10);
  return { images, labels, n, channels: 1, height: 8, width: 8, numClasses: 10 };
}

test('probeEpochs: epochs from the measured step time, state untouched; too short a budget refused', () => {
  manualSeed(1);
  scope(() => {
    const teacher = createModel('smallcnn', { inChannels: 1, numClasses: 10 });
    const student = createModel('smallcnn', { inChannels: 1, numClasses: 10 });
    student.loadStateDict(teacher.stateDict());
    quantize(student, { wBits: 2, aBits: 2 });
    const loader = new BatchLoader({ dataset: dataset(256), batchSize: 32, shuffle: true, seed: 0 });
    calibrate(student, loader.epoch(0), { startBits: 10, maxBatches: 2 });
    const objective = new GdnsqObjective({ student, teacher, lr: 1e-3 });
    const before = Object.fromEntries(Object.entries(student.stateDict()).map(([k, t]) => [k, t.clone()]));
    const objBefore = objective.state();
    const rngBefore = getRngState();
    const r = probeEpochs({ student, objective, loader, batchSize: 32, valImages: 64, budgetMin: 10 });
    assert.ok(r.stepSeconds > 0 && r.epochSeconds > r.stepSeconds * loader.batchesPerEpoch);
    assert.equal(r.epochs, Math.floor(600 / r.epochSeconds));
    for (const [k, t] of Object.entries(student.stateDict())) assert.ok(t.equal(before[k]), `${k} changed by the probe`);
    assert.ok(student.parameters().every((p) => p.grad === null || p.grad.abs().sum().item() === 0), 'gradients left behind');
    assert.deepEqual(objective.state(), objBefore);
    assert.ok(getRngState().equal(rngBefore), 'the generator moved');
    assert.throws(() => probeEpochs({ student, objective, loader, batchSize: 32, valImages: 64, budgetMin: 1e-6 }),
      (e: Error) => e instanceof BudgetError && /^time budget too short: one epoch takes ~\d+ s here, the budget is 0 s$/.test(e.message));
    assert.throws(() => probeEpochs({ student, objective, loader, batchSize: 32, valImages: 64, budgetMin: -1 }), /time budget must be a positive number of minutes, got -1/);
    for (const m of [teacher, student]) m.dispose();
  });
});

test('chooseBatchSize: the largest workable batch when none is given, the given one kept, refusal when none works', () => {
  const budget = { trainImages: 1260, epochs: 10, startBits: 10, minTarget: 2 };
  // 10 steps an epoch at 128: 100 steps cannot descend 8 bits; 64 (200 steps, descent 10–80) neither; 32 can.
  const c = chooseBatchSize(budget);
  assert.equal(c.batchSize, 32);
  assert.equal(c.note, 'batch 32 (not 128): 1260 training images give 10 steps an epoch at 128, too few for the descent in 10 epochs');
  assert.equal(c.plan.totalSteps, 400);
  assert.deepEqual(chooseBatchSize({ ...budget, epochs: 40 }), { ...chooseBatchSize({ ...budget, epochs: 40 }), batchSize: 128, note: null });
  assert.throws(() => chooseBatchSize(budget, 128), (e: Error) => e instanceof BudgetError && /^budget too short: /.test(e.message), 'a batch the user gave is kept, and refused when unworkable');
  assert.throws(() => chooseBatchSize({ ...budget, epochs: 1 }), /\(no batch size from 128 down to 8 makes it workable\)$/);
  // Two ranks: the global batch is twice the per-rank one.
  assert.equal(chooseBatchSize({ ...budget, ranks: 2 }).batchSize, 16);
});
