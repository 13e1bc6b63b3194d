// End to end on real data: a small CNN trained on a Fashion-MNIST subset, then GDNSQ to true
// W2A2 through the same functions the CLI runs, then `eval` verifies the checkpoint's grids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTrain } from '../../src/cli/train';
import { runQuantize, QuantizeCliOptions } from '../../src/cli/quantize';
import { runEval } from '../../src/cli/eval';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-e2e-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const quiet = <T>(fn: () => Promise<T> | T): Promise<T> => {
  const log = console.log;
  console.log = () => {};
  return Promise.resolve().then(fn).finally(() => { console.log = log; });
};

test('smallcnn on a Fashion-MNIST subset reaches true W2A2 and keeps its accuracy', async () => {
  await quiet(() => runTrain({
    model: 'smallcnn', dataset: 'fashion-mnist', epochs: 4, batchSize: 128, lr: 3e-3, optimizer: 'adam', momentum: 0.9,
    nesterov: false, weightDecay: 0, schedule: 'constant', warmupSteps: 0, seed: 0, cropPadding: 0, hflip: false,
    valSize: 1000, valSplit: 'tail', out: path.join(dir, 'fp'), resume: false, progress: false, trainLimit: 6000,
  }));
  const fp = JSON.parse(fs.readFileSync(path.join(dir, 'fp', 'summary.json'), 'utf8')) as { test_top1: number };
  assert.ok(fp.test_top1 > 0.7, `FP teacher too weak: ${fp.test_top1}`);

  // The default planned descent, planned for 9 epochs of 6,000 images at batch 64 (846 steps);
  // at batch 128 (423 steps) the plan is refused as too short (tested in cli/quantize.test.ts).
  const o: QuantizeCliOptions = {
    teacher: path.join(dir, 'fp', 'best.safetensors'), wbits: 2, abits: 2, epochs: 9, method: 'noise', actMethod: 'noise', loss: 'skl',
    schedule: 'planned', descent: 0.4, descentShape: 'ease-out', holdDrop: 0.2, lrDecayPerEpoch: 0.93,
    out: path.join(dir, 'q'), batchSize: 64, lr: 1e-3, kappa: 2, startBits: 10,
    calibBatches: 4, bn: 'keep', valSize: 1000, trainLimit: 6000, seed: 0, threads: undefined, progress: false,
    logEvery: 20, cropPadding: 0, hflip: false,
  };
  const s = await quiet(() => runQuantize(o));
  assert.equal(s.converged, true);
  assert.ok(s.wbits_max <= 2 && s.abits_max <= 2, `true bits W ${s.wbits_max} A ${s.abits_max}`);
  assert.equal(s.steps, 9 * 94);
  assert.equal(s.planned_step, Math.round(0.4 * 9 * 94));
  assert.ok(s.reached_step !== null && Math.abs(s.reached_step - s.planned_step) <= 0.1 * s.planned_step, `reached ${s.reached_step}, planned ${s.planned_step}`);
  // No absolute path of this machine in the summary or the checkpoint's card.
  const text = fs.readFileSync(path.join(dir, 'q', 'summary.json'), 'utf8');
  assert.ok(!text.includes(dir) && !text.includes(os.tmpdir()), 'summary.json names a path of this machine');
  assert.equal(s.teacher?.file, 'best.safetensors');
  assert.match(s.teacher?.sha256 ?? '', /^[0-9a-f]{64}$/);
  // Floor: within 12 points of the FP model (measured: about 6 points below).
  assert.ok(s.quant_top1! >= s.fp_top1! - 0.12, `W2A2 top-1 ${s.quant_top1} vs FP ${s.fp_top1}`);

  // The metrics log has per-step windows and per-epoch records with every layer's bits.
  const lines = fs.readFileSync(path.join(dir, 'q', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.kind === 'step' && typeof l.t === 'number'));
  const epochs = lines.filter((l) => l.kind === 'epoch');
  assert.equal(epochs.length, 9);
  assert.deepEqual(Object.keys(epochs[0].layers as object).sort(), ['conv2.act_quant', 'conv2.weight_quant', 'conv3.act_quant', 'conv3.weight_quant']);

  const best = fs.readFileSync(path.join(dir, 'q', s.checkpoint)).subarray(0, 20000).toString('latin1');
  assert.ok(!best.includes(dir), 'the checkpoint card names a path of this machine');
  const ev = await quiet(() => runEval({ checkpoint: path.join(dir, 'q', s.checkpoint), json: true, batchSize: 500, verifyBatches: 2 }));
  assert.equal(ev.on_grid, true);
  assert.equal(ev.converged, true);
  assert.ok(Math.abs((ev.top1 as number) - s.quant_top1!) < 1e-4);
});
