// A run stopped after its first epoch and resumed ends bit-identical to an uninterrupted run:
// model, optimizer state, data order and RNG re-seeding are all restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTrain } from '../../src/cli/train';
import { loadModelFile } from '../../src/train';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-resume-'));
const base = {
  model: 'smallcnn', dataset: 'fashion-mnist' as const, batchSize: 64, lr: 0.05, optimizer: 'sgd' as const, momentum: 0.9,
  nesterov: true, weightDecay: 5e-4, schedule: 'constant' as const, warmupSteps: 0, seed: 3, cropPadding: 2, hflip: true,
  valSize: 500, valSplit: 'tail' as const, resume: false, progress: false, trainLimit: 1000,
};

test('resume after an epoch reproduces the uninterrupted run exactly', async () => {
  const log = console.log;
  console.log = () => {};
  try {
    await runTrain({ ...base, epochs: 2, out: path.join(dir, 'straight') });
    await runTrain({ ...base, epochs: 1, out: path.join(dir, 'split') });
    await assert.rejects(runTrain({ ...base, epochs: 2, out: path.join(dir, 'split') }), /already holds a run: pass --resume/);
    await runTrain({ ...base, epochs: 2, out: path.join(dir, 'split'), resume: true });
  } finally {
    console.log = log;
  }
  const a = loadModelFile(path.join(dir, 'straight', 'last.safetensors')).state;
  const b = loadModelFile(path.join(dir, 'split', 'last.safetensors')).state;
  assert.deepEqual(Object.keys(a), Object.keys(b));
  for (const k of Object.keys(a)) assert.ok(a[k].equal(b[k]), `${k} differs after resume`);
  const lines = fs.readFileSync(path.join(dir, 'split', 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
});
