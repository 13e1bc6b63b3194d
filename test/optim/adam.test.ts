import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Adam } from '../../src/optim';
import { G, P0, assertClose, param, trajectory } from './fixtures';

// Hand-computed: p0 = [1, −2], lr = 0.1, betas (0.9, 0.999), eps 1e-8,
// g1 = [0.5, 1], g2 = [−1, 0.5].
test('Adam: two steps by hand', () => {
  const p = param([1, -2]);
  const got = trajectory(new Adam([p], { lr: 0.1 }), p, [[0.5, 1], [-1, 0.5]]);
  // Step 1: m = 0.1·g1 = [0.05, 0.1]; v = 0.001·g1² = [0.00025, 0.001]; bc1 = 0.1, bc2 = 0.001
  //   denom = √v/√bc2 + eps = [0.5, 1] + 1e-8; p −= (lr/bc1)·m/denom = 1·[0.1, 0.1]/(1 + [2e-8, 1e-8])
  const p1 = [1 - 0.05 / (0.5 + 1e-8), -2 - 0.1 / (1 + 1e-8)];
  assertClose(got[0], p1);
  assertClose(got[0], [0.900000002, -2.099999999], 1e-15); // lr·sign(g) up to eps
  // Step 2: m = 0.9·[0.05, 0.1] + 0.1·[−1, 0.5] = [−0.055, 0.14]
  //   v = 0.999·[0.00025, 0.001] + 0.001·[1, 0.25] = [0.00124975, 0.001249]
  //   bc1 = 1 − 0.81 = 0.19, bc2 = 1 − 0.998001 = 0.001999
  const step2 = (pi: number, m: number, v: number) => pi - (0.1 / 0.19) * m / (Math.sqrt(v) / Math.sqrt(0.001999) + 1e-8);
  assertClose(got[1], [step2(p1[0], -0.055, 0.00124975), step2(p1[1], 0.14, 0.001249)]);
  // ≈ [0.900000002 + 0.526316·0.055/0.790688, −2.1 − 0.526316·0.14/0.790451] = [0.936610, −2.193218]
  assertClose(got[1], [0.93661, -2.193218], 5e-7);
  p.dispose();
});

test('Adam weight decay joins the gradient (so the first step is still lr·sign)', () => {
  const p = param([1, -2]);
  const got = trajectory(new Adam([p], { lr: 0.1, weightDecay: 0.1 }), p, [[0.5, 1]]);
  // g' = g + 0.1·p = [0.6, 0.8]; m = 0.1·g', step size lr/bc1 = 1, denom = |g'| + eps
  assertClose(got[0], [1 - 0.06 / (0.6 + 1e-8), -2 - 0.08 / (0.8 + 1e-8)]);
  assertClose(got[0], [0.9, -2.1], 1e-7);
  p.dispose();
});

test('Adam float32 trajectory equals PyTorch 1.13 bit for bit', () => {
  const p = param(P0, 'float32');
  assert.deepEqual(trajectory(new Adam([p], { lr: 0.01, weightDecay: 0.1 }), p, G.slice(0, 3)), [
    [0.49000000953674316, -1.2400000095367432, 1.9900000095367432, 0.09000000357627869],
    [0.4867970943450928, -1.236007809638977, 1.9800784587860107, 0.0967269092798233],
    [0.4799552261829376, -1.232749581336975, 1.9736438989639282, 0.09838324785232544],
  ]);
  p.dispose();
});

test('Adam refuses betas outside [0, 1) and negative eps', () => {
  const p = param([1]);
  assert.throws(() => new Adam([p], { betas: [1, 0.999] }), { message: 'Adam (group 0): betas[0] must be in [0, 1), got 1' });
  assert.throws(() => new Adam([p], { betas: [0.9, -0.1] }), { message: 'Adam (group 0): betas[1] must be in [0, 1), got -0.1' });
  assert.throws(() => new Adam([p], { eps: -1 }), { message: 'Adam (group 0): eps must be ≥ 0, got -1' });
  p.dispose();
});
