// Autograd: leaves, backward, accumulation, zeroing, detach, noGrad; then float64 gradient
// checks against central finite differences for the ops training relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, noGrad, isGradEnabled, manualSeed } from '../../src/engine';
import { gradcheck } from '../helpers/gradcheck';

const arr = (t: Tensor | null): number[] => (t ? t.toArray() : []);
const leaf = (shape: number[]): Tensor => Tensor.randn(shape, 'float64').requiresGrad_();
// Each gradient check draws its points from a fixed seed, so a failure reproduces.
const seeded = (fn: () => void) => () => scope(() => { manualSeed(11); fn(); });

test('backward fills .grad of leaves; grads accumulate until zeroGrad', () => scope(() => {
  const x = Tensor.from([1, -2, 3], [3], 'float64').requiresGrad_();
  assert.equal(x.requiresGrad, true);
  assert.equal(x.isLeaf, true);
  assert.equal(x.grad, null);
  const y = x.mul(x).sum();
  assert.equal(y.requiresGrad, true);
  assert.equal(y.isLeaf, false);
  y.backward();
  assert.deepEqual(arr(x.grad), [2, -4, 6]);
  x.mul(x).sum().backward();
  assert.deepEqual(arr(x.grad), [4, -8, 12]);
  x.zeroGrad();
  assert.equal(x.grad, null);
  x.mul(3).sum().backward();
  assert.deepEqual(arr(x.grad), [3, 3, 3]);
  assert.equal(Tensor.ones([2]).requiresGrad, false);
  assert.equal(x.requiresGrad_(false).requiresGrad, false);
}));

test('backward with an explicit gradient; retainGraph allows a second pass', () => scope(() => {
  const x = Tensor.from([1, 2], [2], 'float64').requiresGrad_();
  const y = x.mul(x).mul(x);
  y.backward(Tensor.from([1, 10], [2], 'float64'), true);
  assert.deepEqual(arr(x.grad), [3, 120]);
  y.backward(Tensor.from([1, 0], [2], 'float64'));
  assert.deepEqual(arr(x.grad), [6, 120]);
  assert.throws(() => y.backward(Tensor.from([1, 1], [2], 'float64')), /^Error: backward: Trying to backward through the graph a second time/);
}));

test('detach and noGrad cut the graph; noGrad restores the mode even on error', () => scope(() => {
  const x = Tensor.from([2], [1], 'float64').requiresGrad_();
  const d = x.detach();
  assert.equal(d.requiresGrad, false);
  x.mul(d).sum().backward();
  assert.deepEqual(arr(x.grad), [2], 'the detached factor is a constant');
  assert.equal(isGradEnabled(), true);
  const n = noGrad(() => {
    assert.equal(isGradEnabled(), false);
    return x.mul(2);
  });
  assert.equal(n.requiresGrad, false);
  assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
  assert.equal(isGradEnabled(), true);
  // In-place updates of a leaf are allowed under noGrad (the optimizer's path) and not outside.
  noGrad(() => x.add_(1));
  assert.deepEqual(arr(x.detach()), [3]);
  assert.throws(() => x.add_(1), /^Error: add_: a leaf Variable that requires grad is being used in an in-place operation/);
}));

test('the gradcheck helper rejects a wrong gradient, naming the input and element', () => scope(() => {
  const a = leaf([3]);
  const b = leaf([2, 2]);
  // b·b.detach() has half the true gradient with respect to b.
  assert.throws(() => gradcheck(([, y]) => y.mul(y.detach()), [a, b]), /^AssertionError.*gradcheck: input 1 element \d \[\d, \d\]: autograd/);
  gradcheck(([x, y]) => x.sum().mul(y), [a, b]);
}));

test('gradcheck: conv2d with stride, padding, dilation, groups and bias', seeded(() => {
  gradcheck(([x, w, b]) => F.conv2d(x, w, b, { stride: 2, padding: 1, dilation: 2, groups: 2 }), [leaf([2, 4, 6, 5]), leaf([4, 2, 3, 3]), leaf([4])]);
  gradcheck(([x, w]) => F.conv2d(x, w, null, { stride: [1, 2], padding: [2, 0] }), [leaf([1, 2, 4, 5]), leaf([3, 2, 2, 3])]);
}));

test('gradcheck: batchNorm in training mode (input, weight, bias)', seeded(() => {
  const rm = Tensor.zeros([3], 'float64');
  const rv = Tensor.ones([3], 'float64');
  gradcheck(([x, w, b]) => F.batchNorm(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true }), [leaf([4, 3, 2, 2]), leaf([3]), leaf([3])]);
  gradcheck(([x]) => F.batchNorm(x, { training: true }), [leaf([5, 2])]);
}));

test('gradcheck: linear', seeded(() => {
  gradcheck(([x, w, b]) => F.linear(x, w, b), [leaf([4, 5]), leaf([3, 5]), leaf([3])]);
}));

test('gradcheck: max, average and adaptive pooling', seeded(() => {
  // Random values have no ties, so max pooling is differentiable at the checked point.
  gradcheck(([x]) => F.maxPool2d(x, 2, { stride: 1, padding: 1 }), [leaf([2, 2, 4, 4])]);
  gradcheck(([x]) => F.maxPool2d(x, 3, { stride: 2, dilation: 2, ceilMode: true }), [leaf([1, 2, 7, 7])]);
  gradcheck(([x]) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [leaf([2, 2, 5, 5])]);
  gradcheck(([x]) => F.adaptiveAvgPool2d(x, [3, 2]), [leaf([2, 2, 5, 5])]);
  gradcheck(([x]) => F.adaptiveMaxPool2d(x, 2), [leaf([1, 3, 5, 5])]);
}));

test('gradcheck: logSoftmax + nllLoss, crossEntropy, softmax, klDiv, mseLoss', seeded(() => {
  const y = Tensor.from([2, 0, 1, 2], [4], 'int64');
  gradcheck(([z]) => F.nllLoss(F.logSoftmax(z, 1), y), [leaf([4, 3])]);
  gradcheck(([z]) => F.crossEntropy(z, y, 'sum', 0.1), [leaf([4, 3])]);
  gradcheck(([z]) => F.softmax(z, 0), [leaf([4, 3])]);
  const p = F.softmax(Tensor.randn([4, 3], 'float64'), 1);
  gradcheck(([z]) => F.klDiv(F.logSoftmax(z, 1), p), [leaf([4, 3])]);
  gradcheck(([a, b]) => F.mseLoss(a, b), [leaf([6]), leaf([6])]);
}));

test('gradcheck: swish, the custom op with a C++ backward', seeded(() => {
  gradcheck(([x]) => F.swish(x), [leaf([3, 4])]);
  gradcheck(([x]) => F.swish(F.swish(x)).mul(x), [leaf([5])]);
}));
