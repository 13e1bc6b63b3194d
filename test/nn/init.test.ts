import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, scope } from '../../src/engine';
import { init, Conv2d, Linear } from '../../src/nn';

const stats = (t: Tensor): { mean: number; std: number; min: number; max: number } => {
  const d = Array.from(t.data() as Float32Array);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
  return { mean, std, min: d.reduce((a, b) => Math.min(a, b)), max: d.reduce((a, b) => Math.max(a, b)) };
};

test('fans and gains follow torch.nn.init', () => {
  assert.deepEqual(init.fans(Tensor.zeros([8, 4, 3, 3])), { fanIn: 36, fanOut: 72 });
  assert.deepEqual(init.fans(Tensor.zeros([10, 64])), { fanIn: 64, fanOut: 10 });
  assert.throws(() => init.fans(Tensor.zeros([5])), { message: 'init: fan in and fan out need a tensor with at least 2 dimensions, got shape [5]' });
  assert.equal(init.calculateGain('relu'), Math.SQRT2);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.equal(init.calculateGain('linear'), 1);
  assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(1 / 3));
});

test('kaiming uniform/normal: bounds and spread from the fan (seeded, so exact reruns)', () => {
  manualSeed(11);
  const w = Tensor.zeros([256, 64, 3, 3]); // fan_in 576, fan_out 2304
  init.kaimingUniform(w, { a: Math.sqrt(5) });
  // gain √(1/3) · √(3/576) = 1/24: U(±1/24) has std (1/24)/√3.
  const u = stats(w);
  assert.ok(u.min >= -1 / 24 && u.max <= 1 / 24 && u.max > 0.99 / 24 && u.min < -0.99 / 24, JSON.stringify(u));
  assert.ok(Math.abs(u.std / (1 / 24 / Math.sqrt(3)) - 1) < 0.01, JSON.stringify(u));
  assert.ok(Math.abs(u.mean) < 1e-4);

  init.kaimingNormal(w, { mode: 'fan_out', nonlinearity: 'relu' });
  const n = stats(w);
  assert.ok(Math.abs(n.std / Math.sqrt(2 / 2304) - 1) < 0.01, JSON.stringify(n));
  assert.ok(Math.abs(n.mean) < 1e-4);

  const again = Tensor.zeros([256, 64, 3, 3]);
  manualSeed(11);
  init.kaimingUniform(again, { a: Math.sqrt(5) });
  init.kaimingNormal(again, { mode: 'fan_out', nonlinearity: 'relu' });
  assert.ok(again.equal(w), 'manualSeed reproduces the draws bit for bit');
  assert.throws(() => init.kaimingNormal(w, { mode: 'fan_avg' as 'fan_in' }), { message: "init: unknown mode 'fan_avg' (fan_in, fan_out)" });
});

test('uniform, normal, constant fill in place without touching autograd', () => {
  const p = Tensor.zeros([4000]).requiresGrad_();
  assert.equal(init.uniform(p, 2, 3), p);
  const u = stats(p);
  assert.ok(u.min >= 2 && u.max <= 3 && Math.abs(u.mean - 2.5) < 0.02);
  init.normal(p, -1, 0.5);
  const n = stats(p);
  assert.ok(Math.abs(n.mean + 1) < 0.03 && Math.abs(n.std - 0.5) < 0.03, JSON.stringify(n));
  assert.ok(p.isLeaf && p.requiresGrad);
  init.constant(p, 0.75);
  assert.ok(p.toArray().every((v) => v === 0.75));
  init.zeros(p);
  assert.ok(p.toArray().every((v) => v === 0));
  init.ones(p);
  assert.ok(p.toArray().every((v) => v === 1));
  assert.equal(p.grad, null);
});

test('Conv2d and Linear default init: weight and bias within ±1/√fan_in; models reproduce under manualSeed', () => {
  manualSeed(5);
  const conv = new Conv2d(8, 16, 3);
  const lin = new Linear(100, 50);
  const bound = 1 / Math.sqrt(72);
  for (const t of [conv.weight, conv.bias!]) {
    const s = stats(t);
    assert.ok(s.min >= -bound && s.max <= bound && s.max > 0.5 * bound, JSON.stringify(s));
  }
  for (const t of [lin.weight, lin.bias!]) {
    const s = stats(t);
    assert.ok(s.min >= -0.1 && s.max <= 0.1 && s.max > 0.09, JSON.stringify(s));
  }
  manualSeed(5);
  const conv2 = new Conv2d(8, 16, 3);
  assert.ok(scope(() => conv2.weight.equal(conv.weight) && conv2.bias!.equal(conv.bias!)));
  conv.dispose();
  conv2.dispose();
  lin.dispose();
});
