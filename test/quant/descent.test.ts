// The planned descent: the planner's phases and refusals, the planned trajectory, and the
// controller closing the loop on a toy distillation problem (real quantizers, penalty, RAdam).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed, noGrad, F } from '../../src/engine';
import { Sequential, Linear, ReLU } from '../../src/nn';
import { RAdam, radamRectification } from '../../src/optim';
import {
  planDescent, plannedBits, plannedRate, layerEnd, convergenceBits, describePlan, BudgetError, DescentController, quantize, calibrate, bitPenalty,
  quantizerBits, bitsSummary, projectQuantizers, quantizedLayers, T_MAX, defaultGain,
} from '../../src/quant';
import { plannedQuantizerLr, quantizerLrAt, QUANT_BETAS } from '../../src/train';

test('planner: warm-up, descent to descent·total, recovery; the default warm-up is 5% of the run', () => {
  const p = planDescent({ totalSteps: 4300, startBits: 10, minTarget: 1 });
  assert.deepEqual(p, { totalSteps: 4300, warmupSteps: 215, descentEnd: 1720, recoverySteps: 2580, startBits: 10, shape: 'ease-out', stagger: 0.3 });
  // Staggered: the first of 18 layers reaches its target 30% of the descent early, the last at descentEnd.
  assert.deepEqual([layerEnd(p, 0, 18), layerEnd(p, 17, 18), layerEnd(p, 0, 1)], [Math.round(1720 - 0.3 * 1505), 1720, 1720]);
  assert.equal(planDescent({ totalSteps: 4300, startBits: 10, minTarget: 1, stagger: 0 }).stagger, 0);
  const q = planDescent({ totalSteps: 1000, startBits: 8, minTarget: 4, warmupSteps: 0, descent: 0.5, shape: 'linear' });
  assert.deepEqual([q.warmupSteps, q.descentEnd, q.recoverySteps], [0, 500, 500]);
  const text = describePlan(p, 430, 'W1A1');
  assert.match(text, /^plan: 4300 steps \(10\.0 epochs × 430 steps\)/);
  assert.match(text, /descent   steps 216–1720 \(epoch 4\.0\): 10 bits → W1A1 \(ease-out\)/);
  assert.match(text, /layers reach their targets front to back from step 1269, the last at 1720/);
  assert.match(text, /recovery  steps 1721–4300: targets held; the LR anneals from when the targets are met/);
});

test('planner: a budget too short for the target is refused before training, saying what to change', () => {
  // 1,000 images at batch 128 for one epoch: 8 steps cannot descend 9 bits.
  assert.throws(() => planDescent({ totalSteps: 8, startBits: 10, minTarget: 1 }),
    (e: Error) => e instanceof BudgetError && /^budget too short: the descent from 10 to 1 bits needs at least 90 steps \(≤ 0\.1 bits per step\), this run has 3 \(steps 1–3 of 8\); give about 225 steps or more/.test(e.message));
  // W4A4 needs 60 steps: 200 steps (descent 11–80) are enough, staggered less so the first
  // layer has its 60 (1 − 60/70 = 0.142); 150 (ends at 60, after 8 warm-up) are not.
  assert.equal(planDescent({ totalSteps: 200, startBits: 10, minTarget: 4 }).stagger, 0.142);
  assert.equal(layerEnd(planDescent({ totalSteps: 200, startBits: 10, minTarget: 4 }), 0, 2), 70);
  assert.throws(() => planDescent({ totalSteps: 150, startBits: 10, minTarget: 4 }), BudgetError);
  assert.throws(() => planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, stagger: 1 }), /stagger must be a fraction in \[0, 1\), got 1/);
  assert.throws(() => planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, descent: 0.9 }), /descent 0\.9 leaves 100 of 1000 steps to recover, under the 20% minimum/);
  assert.throws(() => planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, descent: 1.2 }), /descent must be a fraction in \(0, 1\), got 1\.2/);
  assert.throws(() => planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, shape: 'cubic' as never }), /unknown shape 'cubic'/);
});

test('planned bits: start bits through the warm-up, just under the convergence threshold at descentEnd, then the target', () => {
  const lin = planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, warmupSteps: 100, descent: 0.5, shape: 'linear' });
  const eo = { ...lin, shape: 'ease-out' as const };
  // B < log2(⌊2^T⌋ + ½) ⇔ at most 2^T levels: 2 bits → log2(4.5), 1 → log2(2.5), 4 → log2(16.5).
  assert.equal(convergenceBits(2), Math.log2(4.5));
  assert.equal(convergenceBits(1), Math.log2(2.5));
  assert.equal(convergenceBits(2.5), Math.log2(5.5));
  const end2 = Math.log2(4.5) - 0.05;
  assert.equal(plannedBits(lin, 50, 2), 10);
  assert.ok(Math.abs(plannedBits(lin, 300, 2) - (end2 + (10 - end2) * 0.5)) < 1e-12);
  assert.ok(Math.abs(plannedBits(eo, 300, 2) - (end2 + (10 - end2) * 0.25)) < 1e-12);
  assert.ok(Math.abs(plannedBits(lin, 499, 2) - (end2 + (10 - end2) / 400)) < 1e-12);
  // Then held just below the convergence threshold through the recovery (not at T itself).
  assert.equal(plannedBits(lin, 500, 2), end2);
  assert.equal(plannedBits(eo, 900, 4), Math.log2(16.5) - 0.05);
  // A per-layer target at or above the start bits is held at the target.
  assert.equal(plannedBits(lin, 300, 12), 12);
});

test('controller: t rises while a quantizer lags, falls slowly when none does, bounded; no wind-up', () => {
  const plan = planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, warmupSteps: 10, descent: 0.5 });
  // The default gain: 0.05 for a descent of 800 steps or more, 40/steps up to 0.1 below.
  assert.equal(defaultGain(planDescent({ totalSteps: 4300, startBits: 10, minTarget: 1 })), 0.05);
  assert.equal(defaultGain(plan), 40 / 490);
  assert.equal(defaultGain(planDescent({ totalSteps: 225, startBits: 6, minTarget: 4 })), 0.1);
  const c = new DescentController({ plan, gain: 0.05 });
  for (let s = 1; s <= 10; s++) c.update(s, { lagW: 5, lagA: 5, acc: 0.9 });
  assert.equal(c.tw, 0, 'no penalty in the warm-up');
  assert.ok(Math.abs(c.accuracyReference - 0.9) < 1e-12);
  c.update(11, { lagW: 1, lagA: -1, acc: 0.9 });
  assert.ok(Math.abs(c.tw - Math.exp(0.05)) < 1e-12, `weights lag: t_w = t0·e^gain, got ${c.tw}`);
  assert.ok(Math.abs(c.ta - Math.exp(-0.025)) < 1e-12, `activations ahead: t_a = t0·e^(−gain/2), got ${c.ta}`);
  const before = c.tw;
  c.update(12, { lagW: 1.5, lagA: -Infinity, acc: 0.9 });
  assert.ok(Math.abs(c.tw - before * Math.exp(0.05)) < 1e-12, 'lag growing: t_w rises again');
  c.update(13, { lagW: 0.5, lagA: -Infinity, acc: 0.9 });
  assert.ok(Math.abs(c.tw - before * Math.exp(0.05)) < 1e-12, 'lag shrinking (catching up): t_w held, no wind-up');
  const w = c.tw;
  c.update(14, { lagW: 0.02, lagA: -Infinity, acc: 0.9 });
  assert.equal(c.tw, w, 'within tolerance: t_w stays');
  assert.equal(c.clock, 14);
  // A lag that never closes: t saturates at T_MAX and no faster than e^0.05 a step (50 steps: ×12, not ×150).
  let s = 15;
  const t50 = (() => { for (let k = 0; k < 50; k++) c.update(s++, { lagW: 2 + k, lagA: -Infinity, acc: 0.9 }); return c.tw; })();
  assert.ok(Math.abs(t50 / w - Math.exp(2.5)) < 1e-9, `50 lagging steps: ×${(t50 / w).toFixed(2)}`);
  for (let k = 0; k < 400; k++) c.update(s++, { lagW: 100 + k, lagA: -Infinity, acc: 0.9 });
  assert.equal(c.tw, T_MAX);
  const r = new DescentController({ plan });
  // Through JSON (a checkpoint): the empty activation group's lag −∞ comes back as −∞.
  r.loadState(JSON.parse(JSON.stringify(c.state())));
  assert.deepEqual(r.state(), c.state());
  assert.equal(r.lagA, -Infinity);
  assert.throws(() => r.loadState({ clock: 1 }), /DescentController.loadState: expected/);
});

test('guard: a collapse holds the plan and is released on recovery; the slow cost of a bit does not', () => {
  const plan = planDescent({ totalSteps: 4000, startBits: 10, minTarget: 1, warmupSteps: 10, descent: 0.5 });
  const slow = new DescentController({ plan });
  for (let s = 1; s <= 10; s++) slow.update(s, { lagW: 0, lagA: 0, acc: 0.96 });
  // Losing bits steadily: the training accuracy falls 0.96 → 0.76 over 1,500 steps (W1A1's fall
  // as the last bit goes is about 0.11 over 1,000): never held.
  for (let s = 11; s <= 1510; s++) slow.update(s, { lagW: 0, lagA: 0, acc: 0.96 - (0.2 * (s - 10)) / 1500 });
  assert.equal(slow.holds, 0, 'a gradual fall is the normal cost of a bit');
  assert.equal(slow.clock, 1510);
  // A collapse: 0.9 → 0.4 within a step.
  const c = new DescentController({ plan });
  for (let s = 1; s <= 10; s++) c.update(s, { lagW: 0, lagA: 0, acc: 0.9 });
  let s = 11;
  for (; s <= 200; s++) c.update(s, { lagW: 0, lagA: 0, acc: 0.9 });
  while (!c.holding && s < 230) c.update(s++, { lagW: 0, lagA: 0, acc: 0.4 });
  assert.ok(c.holding && c.holds === 1 && s < 215, `held within a few steps of the collapse (step ${s})`);
  const clock = c.clock;
  c.update(s++, { lagW: 0, lagA: 0, acc: 0.4 });
  assert.equal(c.clock, clock, 'the clock stops while held');
  assert.equal(c.plannedRate(1), 0, 'no descent while held');
  while (c.holding && s < 400) c.update(s++, { lagW: 0, lagA: 0, acc: 0.9 });
  assert.ok(!c.holding && c.clock > clock, 'released once the accuracy is back');
});

test('controller: the guard holds at most maxHold steps in all', () => {
  const plan = planDescent({ totalSteps: 1000, startBits: 10, minTarget: 2, warmupSteps: 10, descent: 0.5 });
  const c = new DescentController({ plan, maxHold: 30 });
  for (let s = 1; s <= 10; s++) c.update(s, { lagW: 0, lagA: 0, acc: 0.9 });
  for (let s = 11; s <= 300; s++) c.update(s, { lagW: 0, lagA: 0, acc: 0.1 });
  assert.equal(c.held, 30);
  assert.equal(c.clock, 300 - 30);
});

test('closed loop on a toy distillation: the bits follow the plan and reach W2A2 at the planned step (±10%)', () => {
  manualSeed(0);
  scope(() => {
    const teacher = new Sequential(new Linear(16, 32), new ReLU(), new Linear(32, 32), new ReLU(), new Linear(32, 4));
    const student = new Sequential(new Linear(16, 32), new ReLU(), new Linear(32, 32), new ReLU(), new Linear(32, 4));
    student.loadStateDict(teacher.stateDict());
    quantize(student, { wBits: 2, aBits: 2, layers: { 2: {}, 4: {} } });
    const data = Array.from({ length: 8 }, () => Tensor.randn([64, 16]).keep());
    calibrate(student, data.map((x) => ({ x, y: Tensor.zeros([64], 'int64') })), { startBits: 10 });
    const plan = planDescent({ totalSteps: 800, startBits: 10, minTarget: 2, warmupSteps: 40, descent: 0.4 });
    const ctl = new DescentController({ plan });
    const named = student.namedParameters();
    // As finetune(): one param group for the weights, one per quantized layer's quantizers.
    const qLayers = quantizedLayers(student).map(([name]) => name);
    const layers = qLayers.length;
    const opt = new RAdam([
      { params: named.filter(([n]) => !n.includes('_quant.')).map(([, p]) => p), lr: 1e-3 },
      ...qLayers.map((l) => ({ params: named.filter(([n]) => n.startsWith(`${l}.`) && n.includes('_quant.')).map(([, p]) => p), lr: Math.min(0.2, plannedQuantizerLr(plan, 10, 2)), betas: QUANT_BETAS })),
    ], { lr: 1e-3 });
    let reached: number | null = null;
    const worst: number[] = [];
    for (let s = 1; s <= plan.totalSteps; s++) {
      scope(() => {
        const x = data[s % data.length];
        const target = noGrad(() => teacher.forward(x));
        const task = F.mseLoss(student.forward(x), target);
        const pen = bitPenalty(student, { targetOf: (t, l, n) => ctl.planned(t, l, n) });
        const c = Math.max(task.item(), 1e-3);
        const loss = task.add(pen.mw.mul(pen.pw).mul(ctl.tw * c).add(pen.ma.mul(pen.pa).mul(ctl.ta * c)));
        const lags = pen.layerLags.toArray();
        opt.zeroGrad();
        loss.backward();
        for (let k = 0; k < layers; k++) opt.paramGroups[k + 1].lr = quantizerLrAt(s, ctl.plannedRate(2, k, layers), 1e-3, lags[k]);
        opt.step();
        projectQuantizers(student);
        ctl.update(s, { lagW: pen.lagW.item(), lagA: pen.lagA.item(), acc: 1 });
        if (s > plan.warmupSteps) {
          const bits = quantizerBits(student);
          const rank = new Map(quantizedLayers(student).map(([name], i) => [name, i]));
          if (s <= plan.descentEnd) worst.push(Math.max(...bits.map((b) => b.bitsMax - ctl.planned(2, rank.get(b.layer)!, layers))));
          if (reached === null && bitsSummary(bits).converged) reached = s;
        }
      });
    }
    assert.ok(reached !== null, 'reached W2A2');
    assert.ok(Math.abs((reached as number) - plan.descentEnd) <= 0.1 * plan.descentEnd, `reached at ${reached}, planned ${plan.descentEnd}`);
    // Following, not racing: after a start-up of 25% of the descent (t rising from t0, RAdam's
    // rectification; the first layer's staggered plan is the steepest, 10 → 2 bits in 70% of
    // the descent) the worst quantizer (the input layer's activations) stays within 0.35 bit of its plan and
    // never ½ bit ahead.
    const tail = worst.slice(Math.round(0.25 * (plan.descentEnd - plan.warmupSteps)));
    assert.ok(Math.max(...tail) < 0.35, `lags the plan by up to ${Math.max(...tail).toFixed(3)} bits`);
    assert.ok(Math.min(...tail) > -0.5, `runs ahead of the plan by ${(-Math.min(...tail)).toFixed(3)} bits`);
    assert.ok(bitsSummary(quantizerBits(student)).converged, 'still converged at the end');
    for (const x of data) x.dispose();
    teacher.dispose();
    student.dispose();
  });
});

test('planned rate: the derivative of the planned bits; the quantizer LR follows it to the weights\' LR at each layer\'s end', () => {
  const plan = planDescent({ totalSteps: 4300, startBits: 10, minTarget: 1 });
  for (const [clock, end] of [[400, 1720], [1000, 1720], [900, layerEnd(plan, 0, 18)], [1600, 1720]]) {
    const fd = plannedBits(plan, clock - 0.5, 1, end) - plannedBits(plan, clock + 0.5, 1, end);
    assert.ok(Math.abs(plannedRate(plan, clock, 1, end) - fd) < 1e-9, `rate at ${clock} (end ${end})`);
  }
  assert.equal(plannedRate(plan, 100, 1), 0, 'warm-up');
  assert.equal(plannedRate(plan, 1720, 1), 0, 'recovery');
  // The LR is 2.5 × rate / rectification, within [floor, 0.2]: the first steps of the descent
  // (rectification 0.32) at 0.13, then down to the floor at each layer's own end.
  const first = layerEnd(plan, 0, 18);
  const lrAt = (clock: number, layer: number): number => quantizerLrAt(clock, plannedRate(plan, clock, 1, layerEnd(plan, layer, 18)), 1e-3);
  assert.ok(Math.abs(lrAt(216, 17) - (2.5 * plannedRate(plan, 216, 1)) / radamRectification(216, QUANT_BETAS[1])) < 1e-12);
  assert.equal(quantizerLrAt(5, 1, 1e-3), 0.2, 'capped at 0.2 (RAdam\'s first steps)');
  assert.ok(lrAt(first - 60, 0) < 0.005 && lrAt(first - 60, 0) > 1e-3, `layer 0 near its end: ${lrAt(first - 60, 0)}`);
  assert.equal(lrAt(first, 0), 1e-3, 'layer 0 done: the weights\' LR');
  assert.ok(lrAt(first, 17) > 0.005, 'while the last layer still descends');
  assert.equal(lrAt(1720, 17), 1e-3, 'recovery: the weights\' LR');
  assert.equal(quantizerLrAt(1000, 0, 1e-3), 1e-3, 'held: rate 0');
});
