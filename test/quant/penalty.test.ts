import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope } from '../../src/engine';
import { Sequential } from '../../src/nn';
import { QuantizedLayer } from '../../src/quant/qlayer';
import { bitPenalty } from '../../src/quant/penalty';
import { setValues, tinyQuantized } from './fixtures';

const EPS = 1e-3;
const close = (a: number, b: number, what: string, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/**
 * Hand-made bit-widths with s = 1 (σ = 0), so B_w = log2(range + 1):
 * conv (target 2): channels [0, 3] → B 2 (active by the slack: ε), [0, 7] → B 3 (1 + ε);
 * linear (target 1): [0, 1] → 1 (ε), [0, 0] → 0 (inactive), [0, 3] → 2 (1 + ε);
 * activations (target 2): conv input B_a = 1.5 (inactive), linear input B_a = 2.5 (0.5 + ε).
 */
function handMade(): Sequential {
  const m = tinyQuantized({ layers: { '0': { wBits: 2 }, '3': { wBits: 1 } } });
  const conv = m.at(0) as QuantizedLayer, lin = m.at(3) as QuantizedLayer;
  setValues(conv.weight, [0, 3, 0, 7]);
  setValues(lin.weight, [0, 1, 0, 0, 0, 3]);
  for (const l of [conv, lin]) setValues(l.weight_quant.log2_step, 0);
  setValues(conv.act_quant.log2_step, -1);
  setValues(conv.act_quant.log2_range, 0.5);
  setValues(lin.act_quant.log2_step, 0.25);
  setValues(lin.act_quant.log2_range, 2.75);
  return m;
}

test('P_w, P_a, active counts and group weights on hand-made bit-widths (p = 1)', () => {
  const m = handMade();
  scope(() => {
    const p = bitPenalty(m, { eps: EPS });
    close(p.pw.item(), (EPS + (1 + EPS) + EPS + 0 + (1 + EPS)) / 5, 'P_w');
    close(p.pa.item(), (0 + (0.5 + EPS)) / 2, 'P_a');
    assert.equal(p.kw.item(), 4);
    assert.equal(p.ka.item(), 1);
    const mw = (4 + EPS) / (5 + EPS), ma = (1 + EPS) / (5 + EPS);
    close(p.mw.item(), mw, 'm_w');
    close(p.ma.item(), ma, 'm_a');
    close(p.value.item(), mw * p.pw.item() + ma * p.pa.item(), 'value');
  });
  m.dispose();
});

test('power p = 2 squares each violation', () => {
  const m = handMade();
  scope(() => {
    const p = bitPenalty(m, { eps: EPS, p: 2 });
    close(p.pw.item(), (3 * EPS ** 2 + 2 * (1 + EPS) ** 2) / 5, 'P_w');
    close(p.pa.item(), (0.5 + EPS) ** 2 / 2, 'P_a');
  });
  m.dispose();
});

test('with the range detached the weights get no gradient from the penalty', () => {
  const m = tinyQuantized({ layers: { '0': { wBits: 2 }, '3': { wBits: 1 } }, weightRangeGrad: false });
  const conv = m.at(0) as QuantizedLayer;
  setValues(conv.weight, [0, 3, 0, 7]);
  setValues(conv.weight_quant.log2_step, 0);
  scope(() => {
    bitPenalty(m, { eps: EPS }).value.backward();
    assert.equal(conv.weight.grad, null);
    assert.ok(conv.weight_quant.log2_step.grad !== null);
  });
  m.dispose();
});

test('gradient to σ and λ: only active constraints, scaled by m/N; counts carry none', () => {
  const m = handMade();
  const conv = m.at(0) as QuantizedLayer, lin = m.at(3) as QuantizedLayer;
  scope(() => {
    const p = bitPenalty(m, { eps: EPS });
    const mw = p.mw.item(), ma = p.ma.item();
    p.value.backward();
    // ∂B_w/∂σ = −r/(r + 2^σ) per channel (the range has no gradient), averaged over 5 channels
    const dB = (r: number): number => -r / (r + 1);
    const expectConv = [dB(3), dB(7)].map((d) => (mw / 5) * d);
    const expectLin = [dB(1), 0, dB(3)].map((d) => (mw / 5) * d);
    conv.weight_quant.log2_step.grad!.toArray().forEach((g, i) => close(g, expectConv[i], `conv σ[${i}]`));
    lin.weight_quant.log2_step.grad!.toArray().forEach((g, i) => close(g, expectLin[i], `linear σ[${i}]`));
    close(lin.act_quant.log2_range.grad!.item(), ma / 2, 'linear λ');
    close(lin.act_quant.log2_step.grad!.item(), -ma / 2, 'linear act σ');
    close(conv.act_quant.log2_range.grad!.item(), 0, 'conv λ (inactive)');
    // The range passes its gradient (GDNSQ.md §8): ∂B_w/∂max = 1/((r + s)·ln 2) = −∂B_w/∂min.
    const k = (r: number): number => (mw / 5) / ((r + 1) * Math.LN2);
    conv.weight.grad!.toArray().forEach((g, i) => close(g, [-k(3), k(3), -k(7), k(7)][i], `conv weight[${i}]`));
  });
  m.dispose();
});

test('disabled (32-bit) and pruned quantizers are left out', () => {
  const m = handMade();
  const conv = m.at(0) as QuantizedLayer, lin = m.at(3) as QuantizedLayer;
  conv.weight_quant.targetBits = 32;
  setValues(lin.act_quant.pruned, 1);
  scope(() => {
    const p = bitPenalty(m, { eps: EPS });
    close(p.pw.item(), (EPS + 0 + (1 + EPS)) / 3, 'P_w over the linear channels only');
    assert.equal(p.pa.item(), 0);
    assert.equal(p.ka.item(), 0);
    close(p.ma.item(), EPS / (2 + EPS), 'm_a with no active activation');
  });
  m.dispose();
});

test('bad options are named', () => {
  const m = handMade();
  assert.throws(() => bitPenalty(m, { eps: 0 }), /^Error: penalty: eps must be a finite positive number, got 0$/);
  assert.throws(() => bitPenalty(m, { p: 0.5 }), /^Error: penalty: power p must be a finite number ≥ 1, got 0.5$/);
  m.dispose();
});
