import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readRun, reportMarkdown, layerTable, duration, collapseEpochs } from '../../src/report';
import { quantizeRun, trainRun, tempDir } from './fixtures';

test('durations read as s, min s, h min', () => {
  assert.equal(duration(59.4), '59 s');
  assert.equal(duration(75.4), '1 min 15 s');
  assert.equal(duration(3725), '1 h 2 min');
  assert.equal(duration(undefined), '–');
});

test('the layer table has one row per layer and flags a true width over its target', () => {
  assert.deepEqual(layerTable({
    'a.weight_quant': { target: 2, bits: 1.9, true: 1.585 },
    'a.act_quant': { target: 2, bits: 2, true: 2 },
    'b.bias_quant': { target: 8, bits: 8.1, true: 8.5 },
  }), [
    '| layer | weights: true / target | biases: true / target | activations: true / target |',
    '|---|---|---|---|',
    '| `a` | 1.58 / 2 | – | 2.00 / 2 |',
    '| `b` | – | 8.50 / 8 ⚠ | – |',
  ]);
});

test('a quantize report gives what ran, the key numbers, the plots and the per-layer bits', () => {
  const md = reportMarkdown(readRun(quantizeRun(path.join(tempDir('md'), 'q'))), ['bits.svg', 'training.svg']);
  assert.ok(md.startsWith('# GDNSQ W2A3 quantization: `q`\n'));
  for (const line of [
    'Fine-tuned `/runs/fp/best.safetensors` on fashion-mnist with the noise method and skl distillation loss; 2 epochs, 120 steps, 1 min 15 s. Checkpoint: `/runs/q/last.safetensors`.',
    'Settings: `wBits=2` `aBits=3` `lr=0.001` `kappa=2`',
    'Kept in floating point: `stem` (first conv).',
    '| FP teacher top-1 (test) | 91.23% |',
    '| quantized top-1 (test) | 88.76% |',
    '| Δ top-1 | -2.47 pt |',
    '| converged (every true width ≤ target) | no |',
    '| max true bits W / A | 2.00 / 3.63 |',
    '| epochs / steps | 2 / 120 |',
    '![bits](bits.svg)',
    '![training](training.svg)',
    '## Per-layer bits (final checkpoint)',
    '| layer | weights: true / target | activations: true / target |',
    '| `blockA.conv` | 1.75 / 2 | 2.81 / 3 |',
    '| `blockB.fc` | 2.00 / 2 | 3.63 / 3 ⚠ |',
  ]) assert.ok(md.split('\n').includes(line), `report.md lacks the line: ${line}`);
});

test('an unfinished quantize run reports its last epoch record', () => {
  const md = reportMarkdown(readRun(quantizeRun(path.join(tempDir('md'), 'q'), false)), ['bits.svg']);
  for (const line of [
    '_No summary.json: the run has not finished. Numbers below are from its last epoch record._',
    '| epoch / step | 2 / 120 |', '| validation top-1 | 87.00% |', '| max true bits W / A | 2.00 / 3.63 |', '## Per-layer bits (epoch 2)',
  ]) assert.ok(md.split('\n').includes(line), `report.md lacks the line: ${line}`);
});

test('an FP train report gives the model, accuracies and training time', () => {
  const dir = trainRun(path.join(tempDir('md'), 't'));
  const md = reportMarkdown(readRun(dir), ['training.svg']);
  for (const line of [
    '# FP training: `t`',
    'Trained smallcnn on fashion-mnist for 3 epochs (best on validation: epoch 3). Checkpoint: `/runs/fp/best.safetensors`.',
    '| validation top-1 (best epoch) | 88.12% |', '| test top-1 | 87.45% |', '| test top-5 | 99.51% |', '| test loss | 0.3457 |',
    '| epochs / steps | 3 / 300 |', '| training time | 1 h 2 min |', '![training](training.svg)',
  ]) assert.ok(md.split('\n').includes(line), `report.md lacks the line: ${line}`);
  assert.ok(!md.includes('Per-layer'));
  fs.rmSync(path.join(dir, 'summary.json'));
  assert.ok(reportMarkdown(readRun(dir), []).split('\n').includes('| training time | 1 min 0 s |'));
});

test('the report flags an epoch whose validation top-1 fell more than 10 pt below the previous one', () => {
  const d = tempDir('collapse');
  try {
    const ep = (e: number, v: number) => ({ epoch: e, step: 10 * e, val_top1: v, kind: 'epoch', converged: true });
    fs.writeFileSync(path.join(d, 'metrics.jsonl'), [ep(1, 0.9), ep(2, 0.85), ep(3, 0.7), ep(4, 0.88)].map((r) => `${JSON.stringify(r)}\n`).join(''));
    const run = readRun(d);
    // 0.90 → 0.85 is 5 pt (not a collapse), 0.85 → 0.70 is 15 pt.
    assert.deepEqual(collapseEpochs(run), [{ epoch: 3, from: 0.85, to: 0.7 }]);
    assert.match(reportMarkdown(run, []), /^\*\*Collapse\*\* \(validation top-1 more than 10 pt below the previous epoch's\): epoch 3 \(85\.00% → 70\.00%\)\.$/m);
    fs.writeFileSync(path.join(d, 'metrics.jsonl'), [ep(1, 0.9), ep(2, 0.85)].map((r) => `${JSON.stringify(r)}\n`).join(''));
    assert.match(reportMarkdown(readRun(d), []), /^No collapse: no epoch's validation top-1 fell more than 10 pt below the previous epoch's\.$/m);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
