import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope } from '../../src/engine';
import { Conv2d } from '../../src/nn';

test('Conv2d: shapes, stride/padding/dilation and a closed-form output', () => {
  const conv = new Conv2d(2, 3, 3, { stride: 2, padding: 1 });
  assert.deepEqual(conv.weight.shape, [3, 2, 3, 3]);
  assert.deepEqual(conv.bias!.shape, [3]);
  assert.deepEqual(Object.keys(conv.stateDict()), ['weight', 'bias']);
  scope(() => {
    // all-ones weights and input: an interior output sums 2·3·3 = 18 ones, plus the bias
    conv.weight = Tensor.ones([3, 2, 3, 3]);
    conv.bias = Tensor.from([0, 1, -1]);
    const y = conv.call(Tensor.ones([1, 2, 7, 7]));
    assert.deepEqual(y.shape, [1, 3, 4, 4]);
    // output (1,1) covers input rows/cols 1..3: no padding involved
    assert.equal(y.select(0, 0).select(1, 1).select(1, 1).toArray().join(), '18,19,17');
    // output (0,0) covers rows/cols -1..1: 2x2 of the 3x3 window inside
    assert.equal(y.select(0, 0).select(1, 0).select(1, 0).toArray().join(), '8,9,7');
  });
  const dil = new Conv2d(1, 1, [3, 1], { dilation: [2, 1], bias: false });
  assert.equal(dil.bias, null);
  assert.deepEqual(scope(() => dil.call(Tensor.zeros([2, 1, 9, 4])).shape), [2, 1, 5, 4]);
  assert.equal(dil.toString(), 'Conv2d(1, 1, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 1), bias=False)');
  assert.equal(conv.toString(), 'Conv2d(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))');
  conv.dispose();
  dil.dispose();
});

test('Conv2d groups: each group sees only its own input channels', () => {
  const conv = new Conv2d(4, 2, 1, { groups: 2, bias: false });
  assert.deepEqual(conv.weight.shape, [2, 2, 1, 1]);
  conv.weight = Tensor.from([1, 10, 100, 1000], [2, 2, 1, 1]);
  const y = scope(() => conv.call(Tensor.from([1, 2, 3, 4], [1, 4, 1, 1])).toArray());
  assert.deepEqual(y, [1 * 1 + 10 * 2, 100 * 3 + 1000 * 4]);
  conv.dispose();
});

test('Conv2d errors', () => {
  const conv = new Conv2d(3, 8, 3);
  assert.throws(() => scope(() => conv.call(Tensor.zeros([1, 4, 8, 8]))), { message: 'Conv2d: expected input [N, 3, H, W], got [1, 4, 8, 8]' });
  assert.throws(() => scope(() => conv.call(Tensor.zeros([3, 8, 8]))), { message: 'Conv2d: expected input [N, 3, H, W], got [3, 8, 8]' });
  assert.throws(() => new Conv2d(3, 8, 3, { groups: 2 }), { message: 'Conv2d: inChannels (3) and outChannels (8) must be divisible by groups (2)' });
  assert.throws(() => new Conv2d(3, 0, 3), /^Error: Conv2d: sizes must be positive integers and padding non-negative, got 3, 0, kernel_size=\(3, 3\)/);
  conv.dispose();
});
