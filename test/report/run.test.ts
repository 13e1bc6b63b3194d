import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readRun, quantizerRole } from '../../src/report';
import { quantizeRun, trainRun, tempDir, QUANT_SUMMARY } from './fixtures';

test('a quantize run splits into step and epoch records and keeps its summary', () => {
  const run = readRun(quantizeRun(path.join(tempDir('run'), 'q')));
  assert.equal(run.kind, 'quantize');
  assert.deepEqual(run.steps.map((s) => s.step), [1, 50, 100]);
  assert.deepEqual(run.epochs.map((e) => [e.epoch, e.step]), [[1, 60], [2, 120]]);
  assert.deepEqual(run.summary, QUANT_SUMMARY);
});

test('an FP train run (epoch records without kind) is a train run; no summary is allowed', () => {
  const dir = trainRun(path.join(tempDir('run'), 't'));
  fs.rmSync(path.join(dir, 'summary.json'));
  const run = readRun(dir);
  assert.equal(run.kind, 'train');
  assert.equal(run.steps.length, 0);
  assert.deepEqual(run.epochs.map((e) => e.epoch), [1, 2, 3]);
  assert.equal(run.summary, undefined);
});

test('bad run folders fail with one line naming the problem', () => {
  const root = tempDir('run');
  assert.throws(() => readRun(path.join(root, 'nope')), { message: `run folder not found: ${path.join(root, 'nope')}` });
  assert.throws(() => readRun(root), { message: `${root} has no metrics.jsonl: not a gdnsq run folder` });
  const file = path.join(root, 'metrics.jsonl');
  fs.writeFileSync(file, '');
  assert.throws(() => readRun(root), { message: `${file} holds no records yet` });
  fs.writeFileSync(file, '{"epoch":1,"step":10}\n{"epoch":2,"st\n');
  assert.throws(() => readRun(root), { message: `${file}: line 2 is not JSON` });
  fs.writeFileSync(file, '{"epoch":1}\n');
  assert.throws(() => readRun(root), { message: `${file}: record 1 has no numeric "step"` });
  fs.writeFileSync(file, '{"step":3}\n');
  assert.throws(() => readRun(root), { message: `${file}: record 1 is neither a step nor an epoch record` });
  fs.writeFileSync(file, '{"epoch":1,"step":10}\n');
  fs.writeFileSync(path.join(root, 'summary.json'), '{"wbits": 2');
  assert.throws(() => readRun(root), { message: `${path.join(root, 'summary.json')} is not JSON` });
});

test('quantizer names split into layer and role', () => {
  assert.deepEqual(quantizerRole('layer1.0.conv1.weight_quant'), { layer: 'layer1.0.conv1', role: 'weight' });
  assert.deepEqual(quantizerRole('fc.act_quant'), { layer: 'fc', role: 'act' });
  assert.deepEqual(quantizerRole('fc.bias_quant'), { layer: 'fc', role: 'bias' });
});
