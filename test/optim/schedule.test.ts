import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { schedules as S } from '../../src/optim';
import { assertClose } from './fixtures';

const at = (f: S.Schedule, ts: number[]): number[] => ts.map((t) => f(t));

test('constant', () => {
  assert.deepEqual(at(S.constant(), [0, 7]), [1, 1]);
  assert.deepEqual(at(S.constant(0.3), [0, 1000]), [0.3, 0.3]);
});

test('linear warm-up ramps (t+1)/steps over the inner schedule, then leaves it alone', () => {
  assert.deepEqual(at(S.linearWarmup(4), [0, 1, 2, 3, 4, 100]), [0.25, 0.5, 0.75, 1, 1, 1]);
  // Around exponential(0.5): t = 1 → 0.5·(2/4) = 0.25; t = 5 → 0.5⁵ = 0.03125
  assert.deepEqual(at(S.linearWarmup(4, S.exponential(0.5)), [0, 1, 5]), [0.25, 0.25, 0.03125]);
});

test('cosine: 1 at the start, (1 + min)/2 at the midpoint, min at the end and after', () => {
  const f = S.cosine(10, { min: 0.1 });
  assert.equal(f(0), 1);
  assertClose([f(5)], [0.55], 1e-15);
  assert.equal(f(10), 0.1);
  assert.equal(f(25), 0.1);
  // Quarter point: 0.1 + 0.9·(1 + cos(π/4))/2 ... at t = 2.5 (schedules accept any t)
  assertClose([f(2.5)], [0.1 + 0.45 * (1 + Math.SQRT1_2)], 1e-15);
  // PyTorch 1.13 CosineAnnealingLR(T_max=10, eta_min=0.1), base lr 1, recorded at t = 1, 3, 7, 9:
  assertClose(at(f, [1, 3, 7, 9]), [0.9779754323328191, 0.8145033635316129, 0.2854966364683872, 0.12202456766718092], 1e-15);
  assertClose([S.cosine(4)(2)], [0.5], 1e-15);
});

test('step decay multiplies by gamma every size steps; exponential by gamma every step', () => {
  assertClose(at(S.step(3, 0.1), [0, 2, 3, 5, 6, 9]), [1, 1, 0.1, 0.1, 0.01, 0.001], 1e-16);
  assertClose(at(S.exponential(0.9), [0, 1, 2, 10]), [1, 0.9, 0.81, 0.3486784401], 1e-15);
});

test('one-cycle: peak at t = pctStart·total − 1 (as PyTorch), cosine both ways, held at the end', () => {
  const f = S.oneCycle({ peak: 2, total: 100, pctStart: 0.3 });
  // start = peak/25 = 0.08, end = 0.08/1e4 = 8e-6
  assertClose([f(0)], [0.08], 1e-15);
  assert.equal(f(29), 2);
  assertClose([f(99), f(150)], [8e-6, 8e-6], 1e-16);
  // Halfway down (t = 29 + 70/2 = 64): 8e-6 + (2 − 8e-6)/2 = 1.000004
  assertClose([f(64)], [1.000004], 1e-15);
  // PyTorch 1.13 OneCycleLR(max_lr=2, total_steps=100, pct_start=0.3, cycle_momentum=False):
  assertClose(at(f, [1, 10, 28, 30, 98]), [0.08562756113181491, 0.5903278969282015, 1.9943724388681852, 1.9989930705690486, 0.0010149294309515758], 1e-15);
  // Defaults: pctStart 0.15, divFactor 25, finalDivFactor 1e4, peak 1.
  const d = S.oneCycle({ total: 20 });
  assert.equal(d(2), 1); // 0.15·20 − 1
  assertClose([d(0), d(19)], [0.04, 4e-6], 1e-16);
});

test('sequential restarts each segment at 0; the last one runs on', () => {
  const f = S.sequential([[S.linearWarmup(2), 2], [S.constant(0.5), 3], [S.step(2, 0.1)]]);
  assertClose(at(f, [0, 1, 2, 4, 5, 6, 7, 9]), [0.5, 1, 0.5, 0.5, 1, 1, 0.1, 0.01], 1e-16);
  // Warm-up then cosine over the rest, the usual recipe:
  const wc = S.sequential([[S.linearWarmup(10), 10], [S.cosine(90)]]);
  assert.deepEqual(at(wc, [0, 9, 10, 100]), [0.1, 1, 1, 0]);
  assertClose([wc(55)], [0.5], 1e-15);
});

test('bad arguments are refused with the reason', () => {
  assert.throws(() => S.linearWarmup(0), { message: 'linearWarmup: steps must be a positive integer, got 0' });
  assert.throws(() => S.cosine(2.5), { message: 'cosine: total must be a positive integer, got 2.5' });
  assert.throws(() => S.cosine(10, { min: -1 }), { message: 'cosine: min must be a non-negative number, got -1' });
  assert.throws(() => S.step(3, 0), { message: 'step: gamma must be a positive number, got 0' });
  assert.throws(() => S.exponential(NaN), { message: 'exponential: gamma must be a positive number, got NaN' });
  assert.throws(() => S.oneCycle({ total: 100, pctStart: 1.5 }), { message: 'oneCycle: pctStart must be in [0, 1], got 1.5' });
  assert.throws(() => S.sequential([]), { message: 'sequential: needs at least one segment' });
  assert.throws(() => S.sequential([[S.constant()], [S.constant()]]), { message: 'sequential: segment 0 length must be a positive integer, got undefined' });
});
