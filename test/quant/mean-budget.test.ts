// The mean bit-width budget: size-weighted means of the integer widths against a hand
// computation, the convergence test and the allocation, the sizes measured in calibration,
// and the budget penalty's value and gradient in closed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope } from '../../src/engine';
import { Sequential, Conv2d, ReLU, Flatten, Linear, AdaptiveAvgPool2d } from '../../src/nn';
import { quantize, QuantizeOptions } from '../../src/quant/quantize';
import { QuantizedLayer } from '../../src/quant/qlayer';
import { quantizerBits } from '../../src/quant/bits';
import { activationElements, calibrate } from '../../src/quant/calibrate';
import { bitPenalty } from '../../src/quant/penalty';
import { quantizerSizes, weightedMeans, checkBudget, allocateBits, checkMeanBudget, BudgetTracker } from '../../src/quant/mean-budget';
import { setValues } from './fixtures';

const EPS = 1e-3;
const close = (a: number, b: number, what: string, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/**
 * conv 1×1 (2→2) → ReLU → global average pool → flatten → linear (2→3), both quantized. With an
 * input [N, 2, 4, 4] the conv's input has 32 elements per sample, the linear's 2; the weights 4
 * (2 channels) and 6 (3 channels). Hand-made bits with weight steps s = 1:
 * conv channels [0, 3] and [0, 7] → 4 and 8 levels (B 2 and 3), widest 3 bits;
 * linear channels [0, 1], [0, 0], [0, 3] → B 1, 0, 2, widest 2 bits;
 * conv input: s = 0.5, 2^λ = √2 → round(0.914/0.5) + 1 = 3 levels (1.585 bits → 2), B_a 1.5;
 * linear input: s = 2^0.25, 2^λ = 2^2.75 → round(4.66) + 1 = 6 levels (2.585 → 3), B_a 2.5.
 */
function handMade(o: Partial<QuantizeOptions> = {}): Sequential {
  const m = new Sequential(new Conv2d(2, 2, 1, { bias: false }), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(2, 3, { bias: false }));
  quantize(m, { wBits: 2, aBits: 2, quantizeFirst: true, quantizeLast: true, ...o });
  const conv = m.at(0) as QuantizedLayer, lin = m.at(4) as QuantizedLayer;
  setValues(conv.weight, [0, 3, 0, 7]);
  setValues(lin.weight, [0, 1, 0, 0, 0, 3]);
  for (const l of [conv, lin]) setValues(l.weight_quant.log2_step, 0);
  setValues(conv.act_quant.log2_step, -1);
  setValues(conv.act_quant.log2_range, 0.5);
  setValues(lin.act_quant.log2_step, 0.25);
  setValues(lin.act_quant.log2_range, 2.75);
  return m;
}

const elementsOf = (m: Sequential): Record<string, number> => scope(() => activationElements(m, Tensor.ones([3, 2, 4, 4])));

test('activation sizes per sample from one pass; calibration reports the same', () => {
  const m = handMade();
  assert.deepEqual(elementsOf(m), { '0': 32, '4': 2 });
  const m2 = new Sequential(new Conv2d(2, 2, 1, { bias: false }), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(2, 3, { bias: false }));
  quantize(m2, { wBits: 2, aBits: 2, quantizeFirst: true, quantizeLast: true });
  const rep = scope(() => calibrate(m2, [Tensor.rand([5, 2, 4, 4])]));
  assert.deepEqual(rep.actElements, { '0': 32, '4': 2 });
  m.dispose();
  m2.dispose();
});

test('size-weighted means of the integer widths and of the differentiable bits, by hand', () => {
  const m = handMade();
  const bits = quantizerBits(m);
  const sizes = quantizerSizes(m, elementsOf(m));
  assert.deepEqual(sizes, { '0.act_quant': 32, '0.weight_quant': 4, '4.act_quant': 2, '4.weight_quant': 6 });
  const g = weightedMeans(bits, sizes);
  close(g.w.mean, (4 * 3 + 6 * 2) / 10, 'weights: integer mean');
  close(g.w.smooth, (4 * 2.5 + 6 * 1) / 10, 'weights: smooth mean');
  close(g.a.mean, (32 * 2 + 2 * 3) / 34, 'activations: integer mean');
  close(g.a.smooth, (32 * 1.5 + 2 * 2.5) / 34, 'activations: smooth mean');
  assert.equal(g.w.size, 10);
  assert.equal(g.a.size, 34);
  m.dispose();
});

test('the budget check: means within the budget and every budgeted quantizer within the cap', () => {
  const m = handMade();
  const bits = quantizerBits(m);
  const sizes = quantizerSizes(m, elementsOf(m));
  assert.equal(checkBudget(bits, sizes, { wBits: 2.4, aBits: 70 / 34 }).met, true);
  assert.deepEqual(checkBudget(bits, sizes, { wBits: 2.3 }), {
    wMean: 2.4, aMean: 70 / 34, met: false,
    // Activations are not budgeted: each is held to its own target (2), and the linear's input uses 2.585 bits.
    detail: '4.act_quant 2.58 > 2, weights mean 2.400 > 2.3',
  });
  assert.equal(checkBudget(bits, sizes, { wBits: 2, aBits: 2, maxBits: 2 }).detail,
    '0.weight_quant 3.00 > 2, 4.act_quant 2.58 > 2, weights mean 2.400 > 2, activations mean 2.059 > 2');
  m.dispose();
});

test('allocation: the budgeted quantizers get their integer widths as targets', () => {
  const m = handMade({ budget: { wBits: 2.5, aBits: 2.5 } });
  const conv = m.at(0) as QuantizedLayer, lin = m.at(4) as QuantizedLayer;
  // Budgeted quantizers start with the cap as target.
  assert.deepEqual([conv.weight_quant.targetBits, conv.act_quant.targetBits, lin.weight_quant.targetBits, lin.act_quant.targetBits], [8, 8, 8, 8]);
  allocateBits(m, quantizerBits(m), { wBits: 2.5, aBits: 2.5 });
  assert.deepEqual([conv.weight_quant.targetBits, conv.act_quant.targetBits, lin.weight_quant.targetBits, lin.act_quant.targetBits], [3, 2, 2, 3]);
  // Only the groups the budget names: activations keep their per-layer target.
  const m2 = handMade({ budget: { wBits: 2.5 } });
  allocateBits(m2, quantizerBits(m2), { wBits: 2.5 });
  assert.deepEqual([(m2.at(0) as QuantizedLayer).act_quant.targetBits, (m2.at(4) as QuantizedLayer).weight_quant.targetBits], [2, 2]);
  m.dispose();
  m2.dispose();
});

test('bad budgets are one clear line', () => {
  assert.throws(() => checkMeanBudget({}), /^Error: budget: give wBits, aBits or both$/);
  assert.throws(() => checkMeanBudget({ wBits: 2, maxBits: 9 }), /^Error: budget\.maxBits must be at most 8 \(the packed format's widest code\), got 9$/);
  assert.throws(() => checkMeanBudget({ aBits: 0 }), /budget\.aBits must be a positive number of bits, got 0/);
  assert.throws(() => handMade({ budget: { wBits: 2 }, layers: { '0': { wBits: 4 } } }), /a mean bit-width budget and per-layer targets \(layers\) do not combine/);
});

test('budget penalty: one constraint on the weighted mean plus the caps; gradient n/(C·N)·∂B/∂σ per channel', () => {
  const m = handMade({ budget: { wBits: 1 } });
  const conv = m.at(0) as QuantizedLayer, lin = m.at(4) as QuantizedLayer;
  const sizes = quantizerSizes(m, elementsOf(m));
  scope(() => {
    // Smooth weight mean 1.6 against the target 1 − offset (offset 0.1).
    const p = bitPenalty(m, { eps: EPS, budget: { budget: { wBits: 1 }, sizes, offsetW: 0.1 } });
    const excess = 1.6 - (1 - 0.1 - EPS);
    close(p.pw.item(), excess, 'P_w (caps at 8 inactive)');
    assert.equal(p.kw.item(), 1);
    close(p.lagW.item(), 1.6 - (1 - 0.1), 'lag of the mean');
    // Activations are not budgeted: per quantizer against their target 2 (only the linear's 2.5 is above).
    close(p.pa.item(), (0.5 + EPS) / 2, 'P_a');
    const mw = p.mw.item();
    p.value.backward();
    // ∂B_w/∂σ = −r/(r + 2^σ) for a channel of range r (σ = 0), weighted by its share of the parameters.
    const dB = (r: number): number => -r / (r + 1);
    const expectConv = [3, 7].map((r) => mw * (4 / 2 / 10) * dB(r));
    const expectLin = [1, 0, 3].map((r) => mw * (6 / 3 / 10) * dB(r));
    conv.weight_quant.log2_step.grad!.toArray().forEach((g, i) => close(g, expectConv[i], `conv σ[${i}]`));
    lin.weight_quant.log2_step.grad!.toArray().forEach((g, i) => close(g, expectLin[i], `linear σ[${i}]`));
  });
  scope(() => {
    // A cap of 2 bits: of the 5 channels the conv's 3-bit one is above it by 1 + ε, the two at
    // 2 bits by the slack ε; the mean (1.6) is inactive at a budget of 2.
    const p = bitPenalty(m, { eps: EPS, budget: { budget: { wBits: 2, maxBits: 2 }, sizes } });
    close(p.pw.item(), (1 + 3 * EPS) / 5, 'P_w: the caps alone');
    assert.equal(p.kw.item(), 3);
    close(p.lagW.item(), 1, 'lag of the cap');
  });
  scope(() => {
    // The planned descent moves both the budget and the cap: targetOf(t) = t + 1.
    const p = bitPenalty(m, { eps: EPS, targetOf: (t) => t + 1, budget: { budget: { wBits: 0.5, maxBits: 1.5 }, sizes } });
    const meanEx = 1.6 - (1.5 - EPS);
    const capEx = [2, 3, 1, 0, 2].reduce((s, b) => s + Math.max(0, b - (2.5 - EPS)), 0) / 5;
    close(p.pw.item(), meanEx + capEx, 'P_w with the plan');
  });
  m.dispose();
});

test('the tracker: while the cost is above the plan the target is S − (C − P), once it meets the plan S itself', () => {
  const m = handMade();
  const bits = quantizerBits(m);
  const sizes = quantizerSizes(m, elementsOf(m));
  const t = new BudgetTracker();
  // Weights: cost 2.4, smooth 1.6. Plan 2: offset max(2.4, 2) − 1.6 = 0.8, target 2 − 0.8 = 1.2 = S − (C − P).
  // Activations: cost 70/34, smooth 53/34. Plan 3 (met): offset 3 − 53/34, target = S.
  t.update(bits, sizes, { w: 2, a: 3 });
  close(t.offsetW, 0.8, 'weights');
  close(3 - t.offsetA, 53 / 34, 'activations: the target is the smooth mean');
  const u = new BudgetTracker();
  u.loadState(JSON.parse(JSON.stringify(t.state())));
  assert.deepEqual(u.state(), t.state());
  assert.throws(() => u.loadState({ w: 'x' }), /expected \{w, a\} numbers/);
  m.dispose();
});
