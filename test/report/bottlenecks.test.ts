// The bottleneck report on a synthetic metrics file: per-quantizer lag behind the plan, share
// of steps with the penalty active, the step the target is reached for good, the ordering,
// and the Markdown section of the run report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readRun, bottlenecks, reportMarkdown } from '../../src/report';
import { tempDir } from './fixtures';

const dir = tempDir('bottle');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Steps 1 (warm-up: no temperature), 50, 100, 150; both groups planned 10 → 6 → 3 → 2, targets 2.
// [true, differentiable] per step:
//   A.weight  10/10  2/1.9  3/2.9  2/1.9   on the plan; dips to 2 at step 50 but is back above: reached at 150
//   A.act     10/10  5/5    2/2.5  2/2.5   never lags; penalty active at 150 only (2.5 > 2); reached at 100
//   B.weight  10/10  7/7    4.5/4.4 2/1.95 lags 1, 1.5, 0; active at 50 and 100 (at 150 too: its widest channel is at 2.1); reached at 150
//   C.act     10/10  6/6    3/3    3/3     lags 0, 0, 1; active at 150; never reaches its target
const L = (a: [number, number], b: [number, number], c: [number, number], d: [number, number]): Record<string, { target: number; true: number; bits: number }> => ({
  'A.weight_quant': { target: 2, true: a[0], bits: a[1] }, 'A.act_quant': { target: 2, true: b[0], bits: b[1] },
  'B.weight_quant': { target: 2, true: c[0], bits: c[1] }, 'C.act_quant': { target: 2, true: d[0], bits: d[1] },
});
const records = [
  { kind: 'step', step: 1, loss: 0.1, tw: 0, ta: 0, w_plan: 10, a_plan: 10, layers: L([10, 10], [10, 10], [10, 10], [10, 10]) },
  { kind: 'step', step: 50, loss: 0.1, tw: 1, ta: 1, w_plan: 6, a_plan: 6, layers: L([2, 1.9], [5, 5], [7, 7], [6, 6]) },
  { kind: 'step', step: 100, loss: 0.1, tw: 2, ta: 1, w_plan: 3, a_plan: 3, layers: L([3, 2.9], [2, 2.5], [4.5, 4.4], [3, 3]) },
  { kind: 'step', step: 150, loss: 0.1, tw: 2, ta: 1, w_plan: 2, a_plan: 2, layers: { ...L([2, 1.9], [2, 2.5], [2, 1.95], [3, 3]), 'B.weight_quant': { target: 2, true: 2, bits: 1.95, max: 2.1 } } },
];

function run(): string {
  const d = path.join(dir, 'q');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'metrics.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return d;
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test('bottlenecks: lag behind the plan, penalty-active share, reached for good, strongest first', () => {
  const list = bottlenecks(readRun(run()));
  assert.deepEqual(list.map((b) => b.name), ['C.act_quant', 'B.weight_quant', 'A.weight_quant', 'A.act_quant']);
  const by = Object.fromEntries(list.map((b) => [b.name, b]));
  assert.equal(by['C.act_quant'].reachedStep, null);
  close(by['C.act_quant'].meanLag, 1 / 3, 'C mean lag');
  close(by['C.act_quant'].activeShare, 1 / 3, 'C active');
  assert.equal(by['B.weight_quant'].reachedStep, 150);
  close(by['B.weight_quant'].meanLag, 2.5 / 3, 'B mean lag');
  close(by['B.weight_quant'].maxLag, 1.5, 'B max lag');
  close(by['B.weight_quant'].activeShare, 1, 'B active');
  assert.equal(by['A.weight_quant'].reachedStep, 150);
  close(by['A.weight_quant'].meanLag, 0, 'A.weight lag');
  assert.equal(by['A.act_quant'].reachedStep, 100);
  close(by['A.act_quant'].activeShare, 1 / 3, 'A.act active');
  assert.deepEqual([by['C.act_quant'].role, by['C.act_quant'].layer, by['C.act_quant'].finalTrue], ['act', 'C', 3]);
});

test('the run report names the bottlenecks and tabulates every quantizer', () => {
  const md = reportMarkdown(readRun(run()), []);
  assert.match(md, /^## Bottlenecks: where the bit-width resists the descent$/m);
  assert.match(md, /The strongest: `C` \(activations\), `B` \(weights\), `A` \(weights\), `A` \(activations\)\.$/m);
  assert.ok(md.includes('| `C` activations | 2 | not reached | 0.333 | 1.00 | 33% | 3.00 |'), md);
  assert.ok(md.includes('| `B` weights | 2 | 150 | 0.833 | 1.50 | 100% | 2.00 |'), md);
  assert.ok(!md.includes('Below the target'), 'no quantizer ended a bit below its target');
});

test('the report names quantizers that ended a bit or more below their target (0 bits: a constant output)', () => {
  const d = path.join(dir, 'below');
  fs.mkdirSync(d, { recursive: true });
  const lastStep = { ...records[3], layers: { ...records[3].layers, 'A.act_quant': { target: 2, true: 0, bits: -0.5 }, 'B.weight_quant': { target: 2, true: 1, bits: 1 } } };
  fs.writeFileSync(path.join(d, 'metrics.jsonl'), [...records.slice(0, 3), lastStep].map((r) => `${JSON.stringify(r)}\n`).join(''));
  const md = reportMarkdown(readRun(d), []);
  assert.match(md, /^\*\*Below the target by a bit or more at the end\*\* \(converged, but with capacity lost\): `A` activations \(0\.00 of 2\), `B` weights \(1\.00 of 2\)\. At 0 bits \(constant output\): `A` activations\.$/m);
});

test('a per-channel weight whose narrowest channel is a bit below its target is named, with that channel\'s bits', () => {
  const d = path.join(dir, 'below-channel');
  fs.mkdirSync(d, { recursive: true });
  // B's widest channel is at its target (2 bits), its narrowest at 0: one channel is a constant.
  const lastStep = { ...records[3], layers: { ...records[3].layers, 'B.weight_quant': { target: 2, true: 2, true_min: 0, bits: 1.9 } } };
  fs.writeFileSync(path.join(d, 'metrics.jsonl'), [...records.slice(0, 3), lastStep].map((r) => `${JSON.stringify(r)}\n`).join(''));
  const md = reportMarkdown(readRun(d), []);
  assert.match(md, /`B` weights \(0\.00 in its narrowest channel of 2\)/);
  assert.ok(md.includes('| 2.00 (0.00) |'), 'the table gives the narrowest channel beside the widest');
});
