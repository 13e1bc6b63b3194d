import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SGD } from '../../src/optim';
import { G, P0, assertClose, param, trajectory } from './fixtures';

// Hand-computed cases: p0 = [1, −2], the same gradient g = [0.5, 1] every step, lr = 0.1.
const g = [0.5, 1];
const three = [g, g, g];

test('plain SGD: p ← p − lr·g', () => {
  const p = param([1, -2]);
  const got = trajectory(new SGD([p], { lr: 0.1 }), p, [g, g]);
  // [1 − 0.05, −2 − 0.1] = [0.95, −2.1]; again: [0.9, −2.2]
  assertClose(got[0], [0.95, -2.1]);
  assertClose(got[1], [0.9, -2.2]);
  p.dispose();
});

test('momentum: the buffer starts as the first gradient, then buf ← μ·buf + g', () => {
  const p = param([1, -2]);
  const got = trajectory(new SGD([p], { lr: 0.1, momentum: 0.9 }), p, three);
  // 1: buf = [0.5, 1]                       p = [0.95, −2.1]
  // 2: buf = 0.9·[0.5, 1] + g = [0.95, 1.9]  p = [0.95 − 0.095, −2.1 − 0.19] = [0.855, −2.29]
  // 3: buf = 0.9·[0.95, 1.9] + g = [1.355, 2.71]  p = [0.7195, −2.561]
  assertClose(got[0], [0.95, -2.1]);
  assertClose(got[1], [0.855, -2.29]);
  assertClose(got[2], [0.7195, -2.561]);
  p.dispose();
});

test('dampening scales new gradients but not the first one (PyTorch quirk)', () => {
  const p = param([1, -2]);
  const got = trajectory(new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5 }), p, three);
  // 1: buf = g (undamped) = [0.5, 1]               p = [0.95, −2.1]
  // 2: buf = 0.9·[0.5, 1] + 0.5·g = [0.7, 1.4]      p = [0.88, −2.24]
  // 3: buf = 0.9·[0.7, 1.4] + 0.5·g = [0.88, 1.76]  p = [0.792, −2.416]
  assertClose(got[0], [0.95, -2.1]);
  assertClose(got[1], [0.88, -2.24]);
  assertClose(got[2], [0.792, -2.416]);
  p.dispose();
});

test('Nesterov: the step is g + μ·buf', () => {
  const p = param([1, -2]);
  const got = trajectory(new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }), p, [g, g]);
  // 1: buf = [0.5, 1]; d = g + 0.9·buf = [0.95, 1.9]       p = [0.905, −2.19]
  // 2: buf = [0.95, 1.9]; d = g + 0.9·buf = [1.355, 2.71]  p = [0.7695, −2.461]
  assertClose(got[0], [0.905, -2.19]);
  assertClose(got[1], [0.7695, -2.461]);
  p.dispose();
});

test('weight decay adds wd·p to the gradient', () => {
  const p = param([1, -2]);
  const got = trajectory(new SGD([p], { lr: 0.1, weightDecay: 0.1 }), p, [g, g]);
  // 1: d = g + 0.1·[1, −2] = [0.6, 0.8]               p = [0.94, −2.08]
  // 2: d = g + 0.1·[0.94, −2.08] = [0.594, 0.792]      p = [0.8806, −2.1592]
  assertClose(got[0], [0.94, -2.08]);
  assertClose(got[1], [0.8806, -2.1592]);
  p.dispose();
});

test('float32 trajectories equal PyTorch 1.13 bit for bit', () => {
  const cases: Array<[ConstructorParameters<typeof SGD>[1], number[][]]> = [
    [{ lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.01 }, [
      [0.46950000524520874, -1.1787500381469727, 1.8880000114440918, 0.09490000456571579],
      [0.45181524753570557, -1.1340357065200806, 1.7412559986114502, 0.12026255577802658],
      [0.39567306637763977, -1.098225712776184, 1.6333158016204834, 0.1280287206172943]]],
    [{ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 }, [
      [0.43825000524520874, -1.1051249504089355, 1.7719999551773071, 0.08955000340938568],
      [0.44576162099838257, -1.1088637113571167, 1.4869660139083862, 0.19824428856372833],
      [0.28025946021080017, -1.089667558670044, 1.4002832174301147, 0.18358878791332245]]],
  ];
  for (const [options, expected] of cases) {
    const p = param(P0, 'float32');
    assert.deepEqual(trajectory(new SGD([p], options), p, G.slice(0, 3)), expected);
    p.dispose();
  }
});

test('invalid hyper-parameters are refused with the reason', () => {
  const p = param([1]);
  assert.throws(() => new SGD([p], { lr: -0.1 }), { message: 'SGD (group 0): lr must be ≥ 0, got -0.1' });
  assert.throws(() => new SGD([p], { lr: 0.1, momentum: -1 }), { message: 'SGD (group 0): momentum must be ≥ 0, got -1' });
  assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), { message: 'SGD (group 0): Nesterov momentum requires a momentum and zero dampening' });
  assert.throws(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov momentum requires/);
  assert.throws(() => new SGD([p], {} as { lr: number }), { message: 'SGD (group 0): lr must be ≥ 0, got undefined' });
  p.dispose();
});
