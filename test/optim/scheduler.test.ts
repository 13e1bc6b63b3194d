import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { LRScheduler, RAdam, SGD, schedules as S } from '../../src/optim';
import { assertClose, param, setGrad } from './fixtures';

test('sets every group lr to base lr × factor, from construction on', () => {
  const a = param([1]);
  const b = param([1]);
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
  const sched = new LRScheduler(opt, S.linearWarmup(4));
  assert.deepEqual(sched.baseLrs, [0.1, 0.01]);
  assert.equal(sched.stepCount, 0);
  assertClose(sched.lrs, [0.025, 0.0025], 1e-16);
  setGrad(a, [1]);
  setGrad(b, [1]);
  opt.step(); // used lrs 0.025 / 0.0025
  sched.step();
  assertClose([a.toArray()[0], b.toArray()[0]], [0.975, 0.9975], 1e-15);
  assertClose(sched.lrs, [0.05, 0.005], 1e-16);
  for (let i = 0; i < 5; i++) sched.step();
  assert.equal(sched.stepCount, 6);
  assertClose(opt.paramGroups.map((g) => g.lr), [0.1, 0.01], 1e-16);
  a.dispose();
  b.dispose();
});

test('state dict: resuming gives the same lrs whichever order things are rebuilt in', () => {
  const a = param([1]);
  const schedule = S.sequential([[S.linearWarmup(3), 3], [S.exponential(0.5)]]);
  const opt = new RAdam([a], { lr: 0.2 });
  const sched = new LRScheduler(opt, schedule);
  for (let i = 0; i < 5; i++) sched.step();
  assertClose(sched.lrs, [0.05], 1e-16); // t = 5: 0.2·0.5^(5−3)
  const saved = JSON.parse(JSON.stringify({ opt: opt.stateDict().meta, sched: sched.stateDict() }));
  assert.deepEqual(saved.sched, { step: 5, baseLrs: [0.2] });

  // Scheduler built after the optimizer state (which holds the scheduled lr 0.05) was loaded:
  const opt2 = new RAdam([a], { lr: 0.2 });
  opt2.loadStateDict({ state: {}, meta: saved.opt });
  assert.equal(opt2.paramGroups[0].lr, 0.05);
  const sched2 = new LRScheduler(opt2, schedule);
  sched2.loadStateDict(saved.sched);
  sched2.step();
  assertClose([opt2.paramGroups[0].lr], [0.025], 1e-16); // t = 6: 0.2·0.5³
  assert.equal(sched2.stepCount, 6);
  a.dispose();
});

test('bad schedules and state dicts are refused', () => {
  const a = param([1]);
  const opt = new SGD([a], { lr: 0.1 });
  assert.throws(() => new LRScheduler(opt, () => NaN), { message: 'LRScheduler: the schedule gave NaN at step 0; expected a finite factor ≥ 0' });
  const sched = new LRScheduler(opt, S.constant());
  assert.throws(() => sched.loadStateDict({ step: -1, baseLrs: [0.1] }), { message: 'LRScheduler.loadStateDict: step must be a non-negative integer, got -1' });
  assert.throws(() => sched.loadStateDict({ step: 1, baseLrs: [0.1, 0.2] }), { message: 'LRScheduler.loadStateDict: 2 base lrs for 1 parameter groups' });
  a.dispose();
});
