import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed, noGrad } from '../../src/engine';
import { Module, Sequential, Linear } from '../../src/nn';
import { cifarResNet } from '../../src/models';
import { quantize } from '../../src/quant/quantize';
import { QConv2d } from '../../src/quant/qconv2d';
import { calibrate } from '../../src/quant/calibrate';
import { quantizerBits, resetObservedCodes } from '../../src/quant/bits';
import { tinyQuantized } from './fixtures';

function quantizedResnet(learnLower = false): Module {
  manualSeed(31);
  const m = cifarResNet(20, { inChannels: 1, numClasses: 10 });
  quantize(m, { wBits: 2, aBits: 2, quantizeFirst: true, learnLower });
  return m;
}

for (const startBits of [10, 4]) {
  test(`calibration starts every quantizer at ~${startBits} bits (true bits ≤ ${startBits}, ≥ ${startBits - 1} on the calibration data)`, () => {
    const m = quantizedResnet();
    const batches = scope(() => [0, 1, 2].map(() => Tensor.randn([4, 1, 8, 8]).keep()));
    const bnMean = scope(() => (m.getSubmodule('bn1') as unknown as { runningMean: Tensor }).runningMean.clone().keep());
    const r = calibrate(m, batches, { startBits });
    assert.equal(r.batches, 3);
    assert.equal(r.quantizers.length, 38);
    assert.equal(m.training, true, 'the train/eval mode is restored');
    assert.ok((m.getSubmodule('bn1') as unknown as { runningMean: Tensor }).runningMean.equal(bnMean), 'calibration ran in eval mode');
    const first = m.getSubmodule('conv1') as QConv2d;
    const imgMin = Math.min(...batches.map((b) => scope(() => b.amin().item())));
    assert.equal(first.act_quant.lower.item(), imgMin, 'b = min of the signed image input');
    assert.deepEqual(r.quantizers.filter((q) => q.kind === 'activation').map((q) => q.signed),
      [true, ...new Array<boolean>(18).fill(false)], 'post-ReLU inputs are unsigned');
    assert.match(String(r), new RegExp(`^calibrated on 3 batches, start bits ${startBits}:\\n  conv1\\.act_quant +${startBits}\\.00 bits  input \\[`));
    // true bits on the calibration data, from the eval-mode codes
    m.eval();
    resetObservedCodes(m);
    noGrad(() => { for (const b of batches) scope(() => m.forward(b)); });
    const bits = quantizerBits(m);
    assert.equal(bits.length, 38);
    for (const q of bits) {
      assert.ok(q.trueSource !== 'capacity', q.name);
      assert.ok(q.trueBits <= startBits + 1e-9 && q.trueBits >= startBits - 1, `${q.name}: ${q.trueBits} bits`);
      assert.ok(Math.abs(q.bits - startBits) < 1e-4, `${q.name}: differentiable ${q.bits}`);
    }
    for (const t of [...batches, bnMean]) t.dispose();
    m.dispose();
  });
}

test('the default learns every lower bound: post-ReLU quantizers are signed and start at b = min = 0', () => {
  const m = cifarResNet(20, { inChannels: 1, numClasses: 10 });
  quantize(m, { wBits: 2, aBits: 2 });
  const r = calibrate(m, scope(() => [0, 1].map(() => Tensor.randn([4, 1, 8, 8]).keep())), { startBits: 4 });
  const acts = r.quantizers.filter((q) => q.kind === 'activation');
  assert.equal(acts.length, 18);
  assert.ok(acts.every((q) => q.signed), 'every activation lower bound is learned');
  const l = m.getSubmodule('layer1.0.conv1') as QConv2d;
  assert.equal(l.act_quant.lower.item(), 0, 'b starts at the calibration minimum of a ReLU output');
  assert.equal(l.act_quant.isSigned, true);
  m.dispose();
});

test('a zero-range input is pruned; maxBatches stops pulling; errors are named', () => {
  const m = tinyQuantized();
  let pulled = 0;
  function* zeros(): Generator<{ x: Tensor }> {
    for (;;) { pulled++; yield { x: Tensor.zeros([2, 2, 1, 1]) }; }
  }
  const r = calibrate(m, zeros(), { maxBatches: 2 });
  assert.equal(pulled, 2);
  assert.equal(r.batches, 2);
  // the image is all zeros, and so is the linear's input (no biases)
  assert.deepEqual(r.quantizers.map((q) => [q.name, q.pruned]), [['0.act_quant', true], ['0.weight_quant', false], ['3.act_quant', true], ['3.weight_quant', false]]);
  assert.match(String(r), /0\.act_quant +pruned +input \[0\.000, 0\.000\]/);
  assert.throws(() => calibrate(m, []), /^Error: calibrate: no batches were given$/);
  assert.throws(() => calibrate(new Sequential(new Linear(2, 2)), [Tensor.zeros([1, 2])]), /^Error: calibrate: the model has no quantized layers \(run quantize\(\) first\)$/);
  assert.throws(() => calibrate(m, [], { startBits: 0 }), /calibrate: startBits must be a positive number of bits, got 0/);
  m.dispose();
});

// The activation ranges are the FP network's: weights quantized at the start bits (1 bit here,
// ±max per channel, ~3× the FP weights) must not inflate the ranges layer after layer.
test('calibration records the FP network\'s ranges, whatever bits the weights start at', () => {
  const ranges = (startBits: number): { min: number; max: number }[] => {
    manualSeed(5);
    const m = cifarResNet(20, { inChannels: 1, numClasses: 10 });
    quantize(m, { wBits: 1, aBits: 1, startBits });
    manualSeed(6);
    const r = calibrate(m, scope(() => [0, 1].map(() => Tensor.randn([4, 1, 8, 8]).keep())), { startBits });
    m.dispose();
    return r.quantizers.filter((q) => q.kind === 'activation').map((q) => q.range!);
  };
  const fp = ranges(10), one = ranges(1);
  assert.equal(one.length, 18);
  assert.deepEqual(one, fp);
});

test('actInit lsq: s = 2·mean|x − b|/√(2^B − 1) from the quantized network in training mode, layer by layer; BN statistics kept', () => {
  for (const bits of [1, 2]) {
    manualSeed(7);
    const m = cifarResNet(20, { inChannels: 1, numClasses: 10 });
    quantize(m, { wBits: bits, aBits: bits, startBits: bits });
    manualSeed(8);
    const batches = scope(() => [0, 1].map(() => Tensor.randn([8, 1, 8, 8]).keep()));
    const bn = m.getSubmodule('layer1.0.bn1') as unknown as { runningMean: Tensor; runningVar: Tensor };
    const before = scope(() => [bn.runningMean.clone().keep(), bn.runningVar.clone().keep()]);
    const r = calibrate(m, batches, { startBits: bits, actInit: 'lsq' });
    assert.ok(bn.runningMean.equal(before[0]) && bn.runningVar.equal(before[1]), 'BatchNorm running statistics are unchanged');
    assert.equal(m.training, true);
    // Each quantizer's input in a training-mode pass of the first batch, with the new steps in
    // place: the steps were set from exactly these inputs (each layer after its predecessors).
    const inputs = new Map<string, number>();
    const layers = ['layer1.0.conv1', 'layer2.1.conv2', 'layer3.2.conv2'];
    for (const name of layers) {
      const q = (m.getSubmodule(name) as QConv2d).act_quant;
      const orig = q.forward.bind(q);
      q.forward = (x: Tensor): Tensor => { inputs.set(name, scope(() => x.sub(q.lower).abs().mean().item())); return orig(x); };
    }
    noGrad(() => scope(() => { m.forward(batches[0]); }));
    for (const name of layers) {
      const q = (m.getSubmodule(name) as QConv2d).act_quant;
      const want = (2 * inputs.get(name)!) / Math.sqrt(2 ** bits - 1);
      assert.ok(Math.abs(2 ** q.log2_step.item() / want - 1) < 1e-4, `${name}: step ${2 ** q.log2_step.item()} vs ${want}`);
      assert.ok(Math.abs(q.log2_range.item() - q.log2_step.item() - bits) < 1e-5, `${name}: λ − σ = B`);
      assert.equal(r.quantizers.find((e) => e.name === `${name}.act_quant`)!.bits, bits, 'the report gives the new capacity');
    }
    for (const t of [...batches, ...before]) t.dispose();
    m.dispose();
  }
});

test('actInit lsq balances the 1-bit codes that min-max grids leave mostly at 0', () => {
  const onesShare = (actInit: 'minmax' | 'lsq'): number => {
    manualSeed(9);
    const m = cifarResNet(20, { inChannels: 1, numClasses: 10 });
    quantize(m, { wBits: 1, aBits: 1, startBits: 1 });
    manualSeed(10);
    const batches = scope(() => [0, 1, 2, 3].map(() => Tensor.randn([16, 1, 8, 8]).keep()));
    calibrate(m, batches, { startBits: 1, actInit });
    const q = (m.getSubmodule('layer1.0.conv1') as QConv2d).act_quant;
    let share = 0;
    const orig = q.forward.bind(q);
    q.forward = (x: Tensor): Tensor => { share = scope(() => q.codes(x).float().mean().item()); return orig(x); };
    noGrad(() => scope(() => { m.forward(batches[0]); }));
    for (const t of batches) t.dispose();
    m.dispose();
    return share;
  };
  const minmax = onesShare('minmax'), lsq = onesShare('lsq');
  assert.ok(lsq > 0.2 && lsq < 0.8, `lsq: ${lsq} of the codes are 1`);
  assert.ok(minmax < lsq / 1.5, `min-max: ${minmax} of the codes are 1, lsq ${lsq}`);
});

test('actInit: unknown values and data-parallel calibration are refused in one line', () => {
  const m = tinyQuantized();
  const x = [Tensor.randn([2, 2, 1, 1])];
  assert.throws(() => calibrate(m, x, { actInit: 'mean' as 'lsq' }), /^Error: calibrate: unknown actInit 'mean' \(minmax, lsq\)$/);
  assert.throws(() => calibrate(m, x, { actInit: 'lsq', agreeRanges: (r) => r }), /^Error: calibrate: actInit 'lsq' is not available in data-parallel runs/);
  x[0].dispose();
  m.dispose();
});
