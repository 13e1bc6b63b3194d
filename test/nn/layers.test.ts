// The parameter-free layers: each against a hand-computed output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed } from '../../src/engine';
import { ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Identity, Dropout } from '../../src/nn';

// [1, 1, 4, 4] holding 0..15 row-major
const grid = (): Tensor => Tensor.arange(0, 16, 1, 'float32').reshape([1, 1, 4, 4]);

test('ReLU, Identity, Flatten', () => {
  scope(() => {
    assert.deepEqual(new ReLU().call(Tensor.from([-1, 0, 2])).toArray(), [0, 0, 2]);
    const x = Tensor.from([1, 2]);
    assert.equal(new Identity().call(x), x);
    const f = new Flatten().call(Tensor.zeros([2, 3, 4, 5]));
    assert.deepEqual(f.shape, [2, 60]);
    assert.deepEqual(new Flatten(0, 1).call(Tensor.zeros([2, 3, 4])).shape, [6, 4]);
  });
});

test('pooling layers', () => {
  scope(() => {
    assert.deepEqual(new MaxPool2d(2).call(grid()).toArray(), [5, 7, 13, 15]);
    // 3x3 windows, stride 2, padding 1 (ResNet's stem pool): out 2x2
    assert.deepEqual(new MaxPool2d(3, { stride: 2, padding: 1 }).call(grid()).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(new AvgPool2d(2).call(grid()).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(new AvgPool2d(2, { stride: 1 }).call(grid()).shape, [1, 1, 3, 3]);
    assert.deepEqual(new AdaptiveAvgPool2d(1).call(grid()).toArray(), [7.5]);
    assert.deepEqual(new AdaptiveAvgPool2d([2, 1]).call(grid()).toArray(), [3.5, 11.5]);
  });
  assert.equal(new MaxPool2d(3, { stride: 2, padding: 1 }).toString(), 'MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)');
  assert.equal(new AdaptiveAvgPool2d(1).toString(), 'AdaptiveAvgPool2d(output_size=1)');
});

test('Dropout: scaled mask in training, identity in eval', () => {
  manualSeed(0);
  const d = new Dropout(0.25);
  scope(() => {
    const y = d.call(Tensor.ones([10000])).toArray();
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
    const kept = y.filter((v) => v !== 0).length / y.length;
    assert.ok(Math.abs(kept - 0.75) < 0.02, String(kept));
    d.eval();
    const x = Tensor.from([1, 2, 3]);
    assert.deepEqual(d.call(x).toArray(), [1, 2, 3]);
  });
  assert.throws(() => new Dropout(1.5), { message: 'Dropout: p must be a probability in [0, 1], got 1.5' });
});
