import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope } from '../../src/engine';
import { BatchNorm2d } from '../../src/nn';

// x: [N=2, C=2, H=1, W=2]. Channel 0 holds {1, 2, 3, 6}: mean 3, biased variance 14/4, unbiased
// 14/3. Channel 1 holds {0, -2, 4, 2}: mean 1, biased variance 20/4, unbiased 20/3.
const X = [1, 2, 0, -2, 3, 6, 4, 2];
const SHAPE = [2, 2, 1, 2];
const channelOf = (i: number): number => Math.floor(i / 2) % 2;
const MEAN = [3, 1], VAR_B = [14 / 4, 20 / 4], VAR_U = [14 / 3, 20 / 3];
const W = [2, 0.5], B = [0.1, -1], EPS = 1e-5;

function close(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * (1 + Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
}

function makeBN(o = {}): BatchNorm2d {
  const bn = new BatchNorm2d(2, o);
  if (bn.weight) {
    bn.weight = Tensor.from(W);
    bn.bias = Tensor.from(B);
  }
  return bn;
}

const run = (bn: BatchNorm2d): number[] => scope(() => bn.call(Tensor.from(X, SHAPE)).toArray());
const normalised = (mean: number[], v: number[], affine = true): number[] =>
  X.map((x, i) => { const c = channelOf(i); return ((x - mean[c]) / Math.sqrt(v[c] + EPS)) * (affine ? W[c] : 1) + (affine ? B[c] : 0); });

test('BatchNorm2d: layout and state-dict names follow PyTorch', () => {
  const bn = new BatchNorm2d(3);
  assert.deepEqual(Object.keys(bn.stateDict()), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  assert.deepEqual(bn.weight!.toArray(), [1, 1, 1]);
  assert.deepEqual(bn.bias!.toArray(), [0, 0, 0]);
  assert.deepEqual(bn.runningMean!.toArray(), [0, 0, 0]);
  assert.deepEqual(bn.runningVar!.toArray(), [1, 1, 1]);
  assert.equal(bn.numBatchesTracked!.dtype, 'int64');
  assert.deepEqual(bn.numBatchesTracked!.shape, []);
  assert.deepEqual(bn.namedParameters().map(([n]) => n), ['weight', 'bias']);
  bn.dispose();
});

test('BatchNorm2d training: batch statistics, running averages with momentum, counter', () => {
  const bn = makeBN();
  close(run(bn), normalised(MEAN, VAR_B));
  // running = (1 - 0.1) running + 0.1 batch, with the unbiased batch variance (PyTorch).
  let rm = MEAN.map((m) => 0.1 * m);
  let rv = VAR_U.map((v) => 0.9 + 0.1 * v);
  close(bn.runningMean!.toArray(), rm);
  close(bn.runningVar!.toArray(), rv);
  assert.equal(bn.numBatchesTracked!.item(), 1);
  run(bn);
  rm = rm.map((r, c) => 0.9 * r + 0.1 * MEAN[c]);
  rv = rv.map((r, c) => 0.9 * r + 0.1 * VAR_U[c]);
  close(bn.runningMean!.toArray(), rm);
  close(bn.runningVar!.toArray(), rv);
  assert.equal(bn.numBatchesTracked!.item(), 2);

  bn.eval();
  const [meanBefore, varBefore] = [bn.runningMean!.toArray(), bn.runningVar!.toArray()];
  close(run(bn), normalised(rm, rv));
  assert.deepEqual(bn.runningMean!.toArray(), meanBefore, 'evaluation leaves the statistics alone');
  assert.deepEqual(bn.runningVar!.toArray(), varBefore);
  assert.equal(bn.numBatchesTracked!.item(), 2, 'evaluation does not count batches');
  bn.dispose();
});

test('BatchNorm2d momentum null: cumulative average over the batches seen', () => {
  const bn = makeBN({ momentum: null });
  run(bn);
  close(bn.runningMean!.toArray(), MEAN);
  close(bn.runningVar!.toArray(), VAR_U);
  scope(() => { bn.call(Tensor.from(X.map((x) => x + 10), SHAPE)); });
  close(bn.runningMean!.toArray(), MEAN.map((m) => m + 5));
  close(bn.runningVar!.toArray(), VAR_U);
  assert.equal(bn.numBatchesTracked!.item(), 2);
  bn.dispose();
});

test('BatchNorm2d without running statistics normalises with the batch in eval too; affine=false has no parameters', () => {
  const bn = makeBN({ trackRunningStats: false });
  assert.deepEqual(Object.keys(bn.stateDict()), ['weight', 'bias']);
  assert.equal(bn.numBatchesTracked, null);
  bn.eval();
  close(run(bn), normalised(MEAN, VAR_B));
  bn.dispose();

  const plain = makeBN({ affine: false, eps: 1e-3 });
  assert.deepEqual(Object.keys(plain.stateDict()), ['running_mean', 'running_var', 'num_batches_tracked']);
  assert.equal(plain.numParameters(), 0);
  const y = run(plain);
  close(y, X.map((x, i) => (x - MEAN[channelOf(i)]) / Math.sqrt(VAR_B[channelOf(i)] + 1e-3)));
  assert.equal(plain.toString(), 'BatchNorm2d(2, eps=0.001, momentum=0.1, affine=False, track_running_stats=True)');
  plain.dispose();
});

test('BatchNorm2d gradients reach weight and bias (closed form)', () => {
  const bn = makeBN();
  scope(() => { bn.call(Tensor.from(X, SHAPE)).sum().backward(); });
  // d/dbias of sum(y) = number of elements per channel; d/dweight = sum of x̂ = 0.
  close(bn.bias!.grad!.toArray(), [4, 4]);
  close(bn.weight!.grad!.toArray(), [0, 0], 1e-6);
  bn.dispose();
});

test('BatchNorm2d errors', () => {
  const bn = new BatchNorm2d(2);
  assert.throws(() => scope(() => bn.call(Tensor.zeros([2, 3, 2, 2]))), { message: 'BatchNorm2d: expected input [N, 2, H, W], got [2, 3, 2, 2]' });
  assert.throws(() => scope(() => bn.call(Tensor.zeros([1, 2, 1, 1]))), {
    message: 'BatchNorm2d: expected more than 1 value per channel when training, got input [1, 2, 1, 1]',
  });
  assert.equal(bn.numBatchesTracked!.item(), 0, 'a refused batch is not counted');
  bn.eval();
  scope(() => { bn.call(Tensor.zeros([1, 2, 1, 1])); });
  assert.throws(() => new BatchNorm2d(0), { message: 'BatchNorm2d: numFeatures must be a positive integer, got 0' });
  assert.throws(() => new BatchNorm2d(2, { momentum: 2 }), { message: 'BatchNorm2d: momentum must be in [0, 1] or null, got 2' });
  bn.dispose();
});
