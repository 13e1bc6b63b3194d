import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope } from '../../src/engine';
import { Linear } from '../../src/nn';

test('Linear computes x Wᵀ + b on the last dimension', () => {
  const lin = new Linear(3, 2);
  assert.deepEqual(lin.weight.shape, [2, 3]);
  lin.weight = Tensor.from([1, 2, 3, -1, 0, 1], [2, 3]);
  lin.bias = Tensor.from([0.5, -0.5]);
  const y = scope(() => lin.call(Tensor.from([1, 1, 1, 2, 0, -1], [2, 1, 3])));
  assert.deepEqual(y.shape, [2, 1, 2]);
  assert.deepEqual(y.toArray(), [6.5, -0.5, -0.5, -3.5]);
  assert.equal(lin.toString(), 'Linear(in_features=3, out_features=2, bias=True)');
  const noBias = new Linear(3, 2, { bias: false });
  assert.deepEqual(Object.keys(noBias.stateDict()), ['weight']);
  assert.throws(() => scope(() => lin.call(Tensor.zeros([4, 2]))), { message: 'Linear: expected input [..., 3], got [4, 2]' });
  assert.throws(() => new Linear(0, 2), { message: 'Linear: feature counts must be positive integers, got 0, 2' });
  lin.dispose();
  noBias.dispose();
});
