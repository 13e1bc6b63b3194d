// verifyGrid against hand-made grids: codes 0..2^B − 1 pass, a code of 2^B (one level too many)
// or a value between two codes fails, for weights and for activations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, noGrad } from '../../src/engine';
import { Linear, Sequential } from '../../src/nn';
import { quantize, verifyGrid, quantizedLayers, QLinear } from '../../src/quant';

/** One QLinear(4 → 1) with a 2-bit weight grid of step 1 from 0 and a 2-bit input grid [0, 3], step 1. */
function model(weights: number[]): QLinear {
  const m = new Sequential(new Linear(4, 1, { bias: false }), new Linear(1, 1));
  quantize(m, { wBits: 32, aBits: 32, layers: { 0: { wBits: 2, aBits: 2 } } });
  const [[, l]] = quantizedLayers(m);
  const q = l as QLinear;
  noGrad(() => {
    q.weight.copy_(Tensor.from(weights, [1, 4]));
    q.weight_quant.log2_step.fill_(0);
    q.act_quant.lower.fill_(0);
    q.act_quant.log2_step.fill_(0);
    q.act_quant.log2_range.fill_(2);
    q.act_quant.signed.fill_(0);
  });
  return q;
}

const byRole = (q: QLinear, x: Tensor): Record<string, { ok: boolean; codeMin: number; codeMax: number }> =>
  Object.fromEntries(verifyGrid(q, [x]).map((c) => [c.role, c]));

test('verifyGrid: codes 0..3 of a 2-bit grid pass; a weight code of 4 = 2^B fails', () => {
  scope(() => {
    const x = Tensor.from([0, 1, 2, 3], [1, 4]);
    const good = byRole(model([0, 1, 2, 3]), x);
    assert.deepEqual([good.weight.ok, good.weight.codeMin, good.weight.codeMax], [true, 0, 3]);
    assert.deepEqual([good.act.ok, good.act.codeMax], [true, 3]);
    const bad = byRole(model([0, 1, 2, 4]), x);
    assert.deepEqual([bad.weight.ok, bad.weight.codeMax], [false, 4]);
  });
});

test('verifyGrid: an activation grid one level too wide (code 4) fails on the batch that reaches it', () => {
  scope(() => {
    const q = model([0, 1, 2, 3]);
    noGrad(() => q.act_quant.log2_range.fill_(Math.log2(5)));  // hi = 0 + 5 − 1 = 4: codes 0..4
    assert.equal(byRole(q, Tensor.from([0, 1, 2, 3], [1, 4])).act.ok, true, 'codes 0..3 seen: fine');
    const c = byRole(q, Tensor.from([0, 1, 2, 9], [1, 4])).act;
    assert.deepEqual([c.ok, c.codeMax], [false, 4]);
  });
});
