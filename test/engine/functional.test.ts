// Neural-network functionals against values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, manualSeed } from '../../src/engine';

const arr = (t: Tensor): number[] => t.toArray();
const LN2 = Math.log(2);
const LN3 = Math.log(3);

function near(actual: number[], expected: number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol, `element ${i}: ${a} vs ${expected[i]}`));
}

// 1×1×H×W images holding 0, 1, 2, ... (or 1, 2, ... with from = 1).
const ramp = (h: number, w: number, from = 0): Tensor => Tensor.arange(from, from + h * w, 1, 'float32').reshape([1, 1, h, w]);

test('conv2d: plain, stride + padding, dilation, groups, bias', () => scope(() => {
  const x = ramp(3, 3, 1);
  const ones = Tensor.ones([1, 1, 2, 2]);
  assert.deepEqual(arr(F.conv2d(x, ones)), [12, 16, 24, 28]);
  // Padded windows at stride 2 see {1}, {2,3}, {4,7}, {5,6,8,9}.
  const sp = F.conv2d(x, ones, null, { stride: 2, padding: 1 });
  assert.deepEqual([sp.shape, arr(sp)], [[1, 1, 2, 2], [1, 5, 11, 28]]);
  // A 2×2 kernel dilated by 2 touches the four corners of the 3×3 image.
  assert.deepEqual(arr(F.conv2d(x, ones, null, { dilation: 2 })), [20]);
  assert.deepEqual(F.conv2d(Tensor.zeros([2, 3, 8, 6]), Tensor.zeros([5, 3, 3, 3]), null, { stride: [2, 1], padding: [1, 0] }).shape, [2, 5, 4, 4]);
  // groups = 2: each output channel sees only its own input channel.
  const two = Tensor.cat([ramp(2, 2), ramp(2, 2).mul(10)], 1);
  const g = F.conv2d(two, Tensor.from([2, 3], [2, 1, 1, 1]), Tensor.from([0.5, -1]), { groups: 2 });
  assert.deepEqual(arr(g), [0.5, 2.5, 4.5, 6.5, -1, 29, 59, 89]);
}));

test('linear: x W^T + b, with and without bias', () => scope(() => {
  const x = Tensor.from([1, 2, -1, 0], [2, 2]);
  const w = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]);
  assert.deepEqual(arr(F.linear(x, w, Tensor.from([0, 1, 2]))), [1, 3, 5, -1, 1, 1]);
  assert.deepEqual(arr(F.linear(x, w)), [1, 2, 3, -1, 0, -1]);
}));

test('batchNorm: training normalises by batch stats and updates running stats; eval uses them', () => scope(() => {
  // Channel 0 holds {1, 3} (mean 2, biased var 1, unbiased 2); channel 1 holds {2, 6} (mean 4, 4, 8).
  const x = Tensor.from([1, 2, 3, 6], [2, 2, 1, 1], 'float64');
  const weight = Tensor.from([2, 1], [2], 'float64');
  const bias = Tensor.from([0, 10], [2], 'float64');
  const runningMean = Tensor.zeros([2], 'float64');
  const runningVar = Tensor.ones([2], 'float64');
  const y = F.batchNorm(x, { weight, bias, runningMean, runningVar, training: true, momentum: 0.1, eps: 0 });
  near(arr(y), [-2, 9, 2, 11]);
  near(arr(runningMean), [0.2, 0.4]);
  near(arr(runningVar), [0.9 + 0.2, 0.9 + 0.8], 1e-15);

  const e = F.batchNorm(x, { weight, bias, runningMean, runningVar, training: false, eps: 0 });
  const want = [1, 2, 3, 6].map((v, i) => {
    const c = i % 2;
    return ((v - [0.2, 0.4][c]) / Math.sqrt([1.1, 1.7][c])) * [2, 1][c] + [0, 10][c];
  });
  near(arr(e), want);
  near(arr(runningMean), [0.2, 0.4], 0);

  const plain = F.batchNorm(x, { training: true, eps: 0 });
  near(arr(plain), [-1, -1, 1, 1]);
}));

test('max and average pooling: stride, padding, dilation, ceil mode, count_include_pad', () => scope(() => {
  const x = ramp(4, 4);
  assert.deepEqual(arr(F.maxPool2d(x, 2)), [5, 7, 13, 15]);
  assert.deepEqual(arr(F.avgPool2d(x, 2)), [2.5, 4.5, 10.5, 12.5]);
  // Padding 1 at stride 2: windows cover rows {0}, {1,2}, {3} and the same columns.
  assert.deepEqual(arr(F.maxPool2d(x, 2, { padding: 1 })), [0, 2, 3, 8, 10, 11, 12, 14, 15]);
  assert.deepEqual(arr(F.avgPool2d(x, 2, { padding: 1 })), [0, 0.75, 0.75, 3, 7.5, 4.5, 3, 6.75, 3.75]);
  assert.deepEqual(arr(F.avgPool2d(x, 2, { padding: 1, countIncludePad: false })), [0, 1.5, 3, 6, 7.5, 9, 12, 13.5, 15]);
  assert.deepEqual(arr(F.maxPool2d(x, 2, { stride: 1, dilation: 2 })), [10, 11, 14, 15]);
  assert.deepEqual(arr(F.maxPool2d(ramp(3, 3), 2)), [4]);
  assert.deepEqual(arr(F.maxPool2d(ramp(3, 3), 2, { ceilMode: true })), [4, 5, 7, 8]);
}));

test('adaptive pooling: overlapping bins as in PyTorch', () => scope(() => {
  // 3 → 2 bins: rows/cols {0,1} and {1,2}.
  assert.deepEqual(arr(F.adaptiveAvgPool2d(ramp(3, 3), 2)), [2, 3, 5, 6]);
  assert.deepEqual(arr(F.adaptiveMaxPool2d(ramp(3, 3), 2)), [4, 5, 7, 8]);
  assert.deepEqual(arr(F.adaptiveAvgPool2d(ramp(4, 4), 1)), [7.5]);
  assert.deepEqual(arr(F.adaptiveMaxPool2d(ramp(4, 4), [1, 2])), [13, 15]);
  assert.deepEqual(F.adaptiveAvgPool2d(Tensor.zeros([2, 3, 7, 5]), [3, 2]).shape, [2, 3, 3, 2]);
}));

test('relu, softmax and logSoftmax along a dim', () => scope(() => {
  assert.deepEqual(arr(F.relu(Tensor.from([-1, 2]))), [0, 2]);
  const z = Tensor.from([0, LN3, 0, 0], [2, 2], 'float64');
  near(arr(F.softmax(z)), [0.25, 0.75, 0.5, 0.5], 1e-15);
  near(arr(F.softmax(z, 0)), [0.5, 0.75, 0.5, 0.25], 1e-15);
  near(arr(F.logSoftmax(z)), [Math.log(0.25), Math.log(0.75), -LN2, -LN2], 1e-15);
}));

test('crossEntropy: class indices, reductions, label smoothing, probability targets', () => scope(() => {
  const logits = Tensor.from([0, LN3, 0, 0], [2, 2], 'float64');
  const y = Tensor.from([0, 1], [2], 'int64');
  // Row 0: -log(1/4) = 2 ln 2; row 1: -log(1/2) = ln 2.
  near([F.crossEntropy(logits, y).item()], [1.5 * LN2]);
  near([F.crossEntropy(logits, y, 'sum').item()], [3 * LN2]);
  near(arr(F.crossEntropy(logits, y, 'none')), [2 * LN2, LN2]);
  // Smoothing 0.2 over 2 classes: 0.8·nll + 0.2·mean over classes of -log p.
  near([F.crossEntropy(logits, y, 'mean', 0.2).item()], [(2 * LN2 - 0.1 * LN3 + LN2) / 2]);
  const probs = Tensor.from([0.5, 0.5, 1, 0], [2, 2], 'float64');
  near([F.crossEntropy(logits, probs).item()], [(2 * LN2 - 0.5 * LN3 + LN2) / 2]);
}));

test('nllLoss, klDiv and mseLoss', () => scope(() => {
  const lp = Tensor.from([-1, -2, -3, -4], [2, 2], 'float64');
  const y = Tensor.from([1, 0], [2], 'int64');
  assert.equal(F.nllLoss(lp, y).item(), 2.5);
  assert.equal(F.nllLoss(lp, y, 'sum').item(), 5);
  assert.deepEqual(arr(F.nllLoss(lp, y, 'none')), [2, 3]);

  // KL(p || q) for q = (1/2, 1/2), p = (1/4, 3/4), two identical rows.
  const logQ = Tensor.full([2, 2], Math.log(0.5), 'float64');
  const p = Tensor.from([0.25, 0.75, 0.25, 0.75], [2, 2], 'float64');
  const row = 0.25 * Math.log(0.5) + 0.75 * Math.log(1.5);
  near([F.klDiv(logQ, p).item()], [row], 1e-15);
  near([F.klDiv(logQ, p, 'sum').item()], [2 * row], 1e-15);
  near([F.klDiv(logQ, p, 'mean').item()], [row / 2], 1e-15);
  near([F.klDiv(logQ, p.log(), 'batchmean', true).item()], [row], 1e-15);
  near(arr(F.klDiv(logQ, p, 'none')), [0.25 * Math.log(0.5), 0.75 * Math.log(1.5), 0.25 * Math.log(0.5), 0.75 * Math.log(1.5)], 1e-15);

  const a = Tensor.from([1, 2]);
  const b = Tensor.from([3, 5]);
  assert.equal(F.mseLoss(a, b).item(), 6.5);
  assert.equal(F.mseLoss(a, b, 'sum').item(), 13);
  assert.deepEqual(arr(F.mseLoss(a, b, 'none')), [4, 9]);
}));

test('dropout: scaled survivors in training, identity in eval, seeded', () => scope(() => {
  const x = Tensor.ones([2000]);
  manualSeed(3);
  const d = arr(F.dropout(x, 0.5, true));
  assert.ok(d.every((v) => v === 0 || v === 2), 'survivors are scaled by 1/(1-p)');
  const zeros = d.filter((v) => v === 0).length;
  assert.ok(zeros > 900 && zeros < 1100, `${zeros} of 2000 dropped at p = 0.5`);
  manualSeed(3);
  assert.deepEqual(arr(F.dropout(x, 0.5, true)), d);
  assert.deepEqual(arr(F.dropout(x, 0.5, false)), arr(x));
  assert.deepEqual(arr(F.dropout(x, 0, true)), arr(x));
  assert.ok(arr(F.dropout(x, 1, true)).every((v) => v === 0));
}));

test('swish: x·sigmoid(x)', () => scope(() => {
  const s = (v: number): number => v / (1 + Math.exp(-v));
  near(arr(F.swish(Tensor.from([0, 1, -1, 3], [4], 'float64'))), [0, s(1), s(-1), s(3)], 1e-15);
}));
