import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, noGrad } from '../../src/engine';
import { Sequential } from '../../src/nn';
import { QuantizedLayer } from '../../src/quant/qlayer';
import { quantizerBits, bitsSummary, converged, resetObservedCodes } from '../../src/quant/bits';
import { setValues, tinyQuantized } from './fixtures';

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

/**
 * Weights with s = 1: conv channels [0, 3], [0, 7] → codes 0..3 and 0..7 (true 3 bits);
 * linear channels [0, 1], [0, 0], [0, 3] → true 2 bits. Activations (unsigned, s = 1): conv
 * input grid 0..3 (λ = 2), linear input grid 0..7 (λ = 3).
 */
function handMade(): { m: Sequential; conv: QuantizedLayer; lin: QuantizedLayer } {
  const m = tinyQuantized();
  const conv = m.at(0) as QuantizedLayer, lin = m.at(3) as QuantizedLayer;
  setValues(conv.weight, [0, 3, 0, 7]);
  setValues(lin.weight, [0, 1, 0, 0, 0, 3]);
  for (const l of [conv, lin]) {
    setValues(l.weight_quant.log2_step, 0);
    setValues(l.act_quant.log2_step, 0);
    setValues(l.act_quant.signed, 0);
  }
  setValues(conv.act_quant.log2_range, 2);
  setValues(lin.act_quant.log2_range, 3);
  return { m, conv, lin };
}

test('true bit-widths from codes, differentiable bits and their summaries', () => {
  const { m, conv } = handMade();
  m.eval();
  // inputs (0, 0) and (0, 1): conv input codes 0..1 (1 bit); conv output (0, 0), (3, 7) → linear input codes 0..7
  scope(() => noGrad(() => m.forward(Tensor.from([0, 0, 0, 1], [2, 2, 1, 1]))));
  const e = quantizerBits(m);
  assert.deepEqual(e.map((q) => [q.name, q.layer, q.role, q.target, q.trueSource]), [
    ['0.act_quant', '0', 'act', 2, 'eval'], ['0.weight_quant', '0', 'weight', 2, 'weights'],
    ['3.act_quant', '3', 'act', 2, 'eval'], ['3.weight_quant', '3', 'weight', 2, 'weights'],
  ]);
  assert.deepEqual(e.map((q) => q.trueBits), [1, 3, 3, 2]);
  // B_w = log2(range + 1) per channel: conv 2, 3; linear 1, 0, 2. B_a = λ − σ.
  [[2, 2], [2.5, 3], [3, 3], [1, 2]].forEach(([mean, max], i) => {
    close(e[i].bits, mean, `${e[i].name} mean`);
    close(e[i].bitsMax, max, `${e[i].name} max`);
  });
  const s = bitsSummary(e);
  // The narrowest channel: conv's 2 bits, the linear's zero-range channel 0 bits (one level, a constant).
  assert.deepEqual(e.map((q) => q.trueMin), [1, 2, 3, 0]);
  assert.deepEqual(s.weights, { count: 2, mean: 1.75, max: 3, trueMean: 2.5, trueMax: 3, trueMin: 0 });
  assert.deepEqual(s.activations, { count: 2, mean: 2.5, max: 3, trueMean: 2, trueMax: 3, trueMin: 1 });
  assert.equal(s.converged, false);
  assert.equal(converged(m), false);

  // s = 4 for the conv weights: codes 0..1 and 0..2 (log2 3 bits); the linear input grid
  // shrinks to 0..3, and without eval codes the grid's capacity counts
  setValues(conv.weight_quant.log2_step, 2);
  setValues((m.at(3) as QuantizedLayer).act_quant.log2_range, 2);
  resetObservedCodes(m);
  const f = quantizerBits(m);
  assert.deepEqual(f.map((q) => q.trueSource), ['capacity', 'weights', 'capacity', 'weights']);
  assert.deepEqual(f.map((q) => q.trueBits), [2, Math.log2(3), 2, 2]);
  assert.equal(converged(m), true);
  m.dispose();
});

test('disabled quantizers are not listed; pruned ones count 0 bits', () => {
  const m = tinyQuantized({ layers: { '3': { aBits: 32 } } });
  const conv = m.at(0) as QuantizedLayer;
  setValues(conv.act_quant.pruned, 1);
  const e = quantizerBits(m);
  assert.deepEqual(e.map((q) => q.name), ['0.act_quant', '0.weight_quant', '3.weight_quant']);
  assert.equal(e[0].pruned, true);
  assert.equal(e[0].trueBits, 0);
  assert.equal(e[0].bits, 0);
  assert.equal(bitsSummary(e).activations.count, 1);
  m.dispose();
});
