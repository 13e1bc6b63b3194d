import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed, noGrad } from '../../src/engine';
import { Quantizer, floorBits } from '../../src/quant/quantizer';
import { gradcheck } from '../helpers/gradcheck';

const set = (t: Tensor, v: number | number[]): void => noGrad(() => scope(() => {
  if (typeof v === 'number') t.fill_(v);
  else t.copy_(Tensor.from(v, t.shape));
}));

/**
 * Asserts every y lies on its channel's grid: y = code·s + lo with an integer code in
 * [0, maxCode]; returns the codes. lo, s: one value per channel of axis 0 (or one in total).
 */
function assertOnGrid(y: Tensor, lo: number[], s: number[], maxCode: number): number[] {
  const vals = y.toArray();
  const per = vals.length / lo.length;
  return vals.map((v, i) => {
    const c = Math.floor(i / per);
    const code = Math.round((v - lo[c]) / s[c]);
    assert.ok(Number.isInteger(code) && code >= 0 && code <= maxCode, `element ${i}: code ${code} outside [0, ${maxCode}]`);
    assert.ok(Math.abs(v - (code * s[c] + lo[c])) <= 1e-6 * Math.max(1, Math.abs(v)), `element ${i}: ${v} is not ${code}·${s[c]} + ${lo[c]}`);
    return code;
  });
}

test('parameters and buffers are named as the state dict expects', () => {
  const w = new Quantizer({ kind: 'weight', bits: 4, channels: 8 });
  assert.deepEqual(w.namedParameters().map(([n, t]) => [n, t.shape]), [['log2_step', [8]]]);
  assert.deepEqual(Object.keys(w.stateDict()), ['log2_step', 'target_bits', 'pruned']);
  const t = new Quantizer({ kind: 'weight', bits: 4 });
  assert.deepEqual(t.log2_step.shape, [1]);
  const a = new Quantizer({ kind: 'activation', bits: 3 });
  assert.deepEqual(a.namedParameters().map(([n, p]) => [n, p.shape]), [['lower', [1]], ['log2_range', [1]], ['log2_step', [1]]]);
  assert.deepEqual(Object.keys(a.stateDict()), ['lower', 'log2_range', 'log2_step', 'target_bits', 'pruned', 'signed']);
  assert.equal(a.targetBits, 3);
  assert.equal(String(a), 'Quantizer(activation, bits=3, method=noise)');
  for (const q of [w, t, a]) q.dispose();
});

test('bad configurations are refused with one line', () => {
  assert.throws(() => new Quantizer({ kind: 'weight', bits: 0 }), /^Error: Quantizer: bits must be a positive number of bits, got 0$/);
  assert.throws(() => new Quantizer({ kind: 'activation', bits: 2, channels: 4 }), /activation quantizers are per tensor/);
  assert.throws(() => new Quantizer({ kind: 'weight', bits: 2, method: 'round' as never }), /unknown quantizer method 'round' \(noise, lsq, ewgs, aewgs\)/);
  const q = new Quantizer({ kind: 'weight', bits: 2, channels: 3 });
  scope(() => assert.throws(() => q.forward(Tensor.zeros([4, 2])), /weight quantizer has 3 channels, got a weight of shape \[4, 2\]/));
  q.dispose();
});

test('weights per channel: outputs lie on code·s + min with codes in [0, 2^bits) after calibration', () => {
  manualSeed(3);
  const q = new Quantizer({ kind: 'weight', bits: 2, channels: 4 });
  scope(() => {
    const w = Tensor.randn([4, 3, 3, 3]).mul(Tensor.from([0.1, 1, 3, 0.01], [4, 1, 1, 1]));
    q.calibrateWeight(w, 2);
    const lo = w.amin([1, 2, 3]).toArray(), hi = w.amax([1, 2, 3]).toArray();
    const s = q.log2_step.exp2().toArray();
    // σ = log2((max − min)/(2^B − 1)) per channel
    s.forEach((v, c) => assert.ok(Math.abs(v - (hi[c] - lo[c]) / 3) <= 1e-6 * v));
    for (const mode of [true, false]) {
      q.train(mode);
      const codes = assertOnGrid(q.forward(w), lo, s, 3);
      assert.deepEqual(q.codes(w).toArray(), codes);
      // every channel uses its two extreme codes: min ↦ 0 and max ↦ 3
      for (let c = 0; c < 4; c++) {
        const mine = codes.slice(27 * c, 27 * (c + 1));
        assert.equal(Math.min(...mine), 0);
        assert.equal(Math.max(...mine), 3);
      }
    }
    assert.equal(q.trueBits(w), 2);
    // B_w = log2(range + s) − σ = log2(4s) − σ = 2 exactly at this calibration
    q.bits(w).toArray().forEach((b) => assert.ok(Math.abs(b - 2) < 1e-5));
  });
  q.dispose();
});

test('weights per tensor share one step', () => {
  manualSeed(4);
  const q = new Quantizer({ kind: 'weight', bits: 3 });
  scope(() => {
    const w = Tensor.randn([5, 6]);
    q.calibrateWeight(w, 3);
    const lo = w.amin().item(), s = q.log2_step.exp2().item();
    assert.ok(Math.abs(s - (w.amax().item() - lo) / 7) <= 1e-6 * s);
    assertOnGrid(q.forward(w), [lo], [s], 7);
    assert.equal(q.trueBits(w), 3);
  });
  q.dispose();
});

test('activations: calibration sets b, σ and λ; outputs are on the grid and clamped', () => {
  manualSeed(5);
  const q = new Quantizer({ kind: 'activation', bits: 3 });
  scope(() => {
    const x = Tensor.randn([6, 2, 4, 4]).mul(2);
    q.calibrating = true;
    assert.equal(q.forward(x), x);
    q.forward(x.mul(0.5));
    q.calibrating = false;
    const r = q.calibrationRange!;
    assert.equal(r.min, x.amin().item());
    assert.equal(r.max, x.amax().item());
    q.calibrateActivation(3);
    assert.equal(q.isSigned, true);
    assert.equal(q.lower.item(), r.min);
    const s = q.log2_step.exp2().item();
    assert.ok(Math.abs(s - (r.max - r.min) / 7) <= 1e-6 * s);
    assert.ok(Math.abs(q.log2_range.item() - q.log2_step.item() - 3) < 1e-6);
    const wide = x.mul(3);
    for (const mode of [true, false]) {
      q.train(mode);
      const codes = assertOnGrid(q.forward(wide), [r.min], [s], 7);
      assert.deepEqual(q.codes(wide).toArray(), codes);
      assert.equal(Math.min(...codes), 0);
      assert.equal(Math.max(...codes), 7);
    }
    assert.equal(q.trueBits(wide), 3);
    assert.equal(q.capacityBits(), 3);
  });
  q.dispose();
});

test('activations after ReLU are unsigned: b = 0 and gets no gradient; λ, σ do', () => {
  manualSeed(6);
  const q = new Quantizer({ kind: 'activation', bits: 4 });
  scope(() => {
    const x = Tensor.randn([64]).relu();
    q.calibrating = true;
    q.forward(x);
    q.calibrating = false;
    q.calibrateActivation(4);
    assert.equal(q.isSigned, false);
    assert.equal(q.lower.item(), 0);
    assert.equal(String(q), 'Quantizer(activation, bits=4, method=noise, unsigned)');
    q.forward(x.mul(1.5).sub(0.1)).sum().backward();
    assert.equal(q.lower.grad, null);
    assert.ok(q.log2_range.grad && q.log2_range.grad.item() !== 0);
    assert.ok(q.log2_step.grad && Number.isFinite(q.log2_step.grad.item()));
    // a signed one: the elements below b send their gradient to b
    const sq = new Quantizer({ kind: 'activation', bits: 4 });
    sq.forward(Tensor.from([-1, -2, 0.5])).sum().backward();
    assert.equal(sq.isSigned, true);
    assert.equal(sq.lower.grad!.item(), 2);
    sq.dispose();
  });
  q.dispose();
});

test('hand-made grid: codes 0..3 are 2 bits; eval keeps the running code range', () => {
  const q = new Quantizer({ kind: 'activation', bits: 2 });
  set(q.lower, 0);
  set(q.log2_step, 0);   // s = 1
  set(q.log2_range, 2);  // q = 4: hi = 0 + 4 − 1 = 3
  scope(() => {
    assert.deepEqual(q.codes(Tensor.from([0, 1, 2, 3, 7, -5])).toArray(), [0, 1, 2, 3, 3, 0]);
    assert.equal(q.trueBits(Tensor.from([0, 1, 2, 3])), 2);
    assert.equal(q.trueBits(Tensor.from([0, 1.2])), 1);
    assert.equal(q.trueBits(Tensor.from([5, 9])), 0);
    assert.equal(q.capacityBits(), 2);
    assert.equal(q.bits().item(), 2);
    q.eval();
    assert.equal(q.observedBits(), null);
    q.forward(Tensor.from([0.9, 1.1]));
    assert.equal(q.observedBits(), 0);
    q.forward(Tensor.from([2.2, 2.9, 40]));
    assert.equal(q.observedBits(), Math.log2(3));
    q.train();
    q.forward(Tensor.from([-9]));
    assert.equal(q.observedBits(), Math.log2(3), 'training batches are not recorded');
    q.resetObserved();
    assert.equal(q.observedBits(), null);
  });
  q.dispose();
});

test('B_w = log2(max − min + s) − σ and B_a = λ − σ, with their σ/λ gradients', () => {
  const w = new Quantizer({ kind: 'weight', bits: 2, channels: 2 });
  set(w.log2_step, [-1, 1]);
  scope(() => {
    const weight = Tensor.from([0, 3, 1, 2, -1, 4], [2, 3]);
    const ranges = [3, 5], sig = [-1, 1];
    const b = w.bits(weight);
    b.toArray().forEach((v, c) => assert.ok(Math.abs(v - (Math.log2(ranges[c] + 2 ** sig[c]) - sig[c])) < 1e-6));
    b.sum().backward();
    // ∂B_w/∂σ = 2^σ/(r + 2^σ) − 1 = −r/(r + 2^σ)
    w.log2_step.grad!.toArray().forEach((g, c) => assert.ok(Math.abs(g + ranges[c] / (ranges[c] + 2 ** sig[c])) < 1e-6));
  });
  const a = new Quantizer({ kind: 'activation', bits: 2 });
  set(a.log2_range, 1.5);
  set(a.log2_step, -2.25);
  scope(() => {
    const b = a.bits();
    assert.equal(b.item(), 3.75);
    b.backward();
    assert.equal(a.log2_range.grad!.item(), 1);
    assert.equal(a.log2_step.grad!.item(), -1);
  });
  for (const q of [w, a]) q.dispose();
});

test('a zero-range input is pruned: constant output, no gradient, 0 bits', () => {
  const q = new Quantizer({ kind: 'activation', bits: 2 });
  scope(() => {
    q.calibrating = true;
    q.forward(Tensor.full([3, 4], 0.5));
    q.calibrating = false;
    q.calibrateActivation(10);
    assert.equal(q.isPruned, true);
    assert.equal(q.active, false);
    const x = Tensor.randn([2, 5]).requiresGrad_();
    const y = q.forward(x);
    assert.deepEqual(y.shape, [2, 5]);
    assert.ok(y.toArray().every((v) => v === 0.5));
    assert.equal(y.requiresGrad, false);
    assert.equal(q.trueBits(x), 0);
    assert.equal(q.capacityBits(), 0);
  });
  const w = new Quantizer({ kind: 'weight', bits: 2, channels: 2 });
  scope(() => {
    const weight = Tensor.full([2, 3], -0.25).requiresGrad_();
    w.calibrateWeight(weight, 10);
    assert.equal(w.isPruned, true);
    const y = w.forward(weight);
    assert.deepEqual(y.toArray(), [-0.25, -0.25, -0.25, -0.25, -0.25, -0.25]);
    assert.equal(y.requiresGrad, false);
    assert.equal(w.trueBits(weight), 0);
  });
  for (const m of [q, w]) m.dispose();
});

test('a constant channel among varying ones takes the tensor step and has 0 bits', () => {
  const q = new Quantizer({ kind: 'weight', bits: 2, channels: 2 });
  scope(() => {
    const weight = Tensor.from([1, 1, 1, 0, 3, 6], [2, 3]);
    q.calibrateWeight(weight, 2);
    assert.equal(q.isPruned, false);
    assert.deepEqual(q.log2_step.toArray(), [1, 1]); // both log2(6/3)
    assert.deepEqual(q.forward(weight).toArray(), [1, 1, 1, 0, 4, 6]);
    assert.deepEqual(q.codes(weight).toArray(), [0, 0, 0, 0, 2, 3]);
    assert.deepEqual(q.bits(weight).toArray(), [0, Math.log2(8) - 1]);
  });
  q.dispose();
});

test('32 bits and more: the quantizer is the identity', () => {
  const q = new Quantizer({ kind: 'activation', bits: 32 });
  const w = new Quantizer({ kind: 'weight', bits: 40, channels: 2 });
  scope(() => {
    const x = Tensor.randn([2, 3]);
    assert.equal(q.enabled, false);
    assert.equal(q.forward(x), x);
    assert.equal(w.forward(x), x);
    assert.equal(String(q), 'Quantizer(activation, fp)');
    assert.throws(() => q.codes(x), /disabled \(32 bits\)/);
    q.targetBits = 2;
    assert.equal(q.enabled, true);
    assert.notEqual(q.forward(x), x);
  });
  for (const m of [q, w]) m.dispose();
});

test('B_w passes its gradient to the extreme weights (finite differences); rangeGrad false detaches them', () => {
  manualSeed(3);
  scope(() => {
    const w = new Quantizer({ kind: 'weight', bits: 2, channels: 3 });
    const weight = Tensor.randn([3, 2, 3, 3], 'float64').requiresGrad_();
    noGrad(() => w.log2_step.copy_(Tensor.from([-3, -2.5, -4])));
    // Per channel: ∂B/∂w_max = 1/((r + s)·ln 2), ∂B/∂w_min = −that, 0 for every other weight.
    gradcheck(([x]) => w.bits(x), [weight], { eps: 1e-6, atol: 1e-7, rtol: 1e-5 });
    w.bits(weight).sum().backward();
    const g = weight.grad!.toArray(), vals = weight.toArray();
    for (let c = 0; c < 3; c++) {
      const ch = vals.slice(c * 18, (c + 1) * 18), gc = g.slice(c * 18, (c + 1) * 18);
      const r = Math.max(...ch) - Math.min(...ch), s = 2 ** [-3, -2.5, -4][c];
      const k = 1 / ((r + s) * Math.LN2);
      ch.forEach((v, i) => {
        const want = v === Math.max(...ch) ? k : v === Math.min(...ch) ? -k : 0;
        assert.ok(Math.abs(gc[i] - want) < 1e-9, `channel ${c} element ${i}: ${gc[i]} vs ${want}`);
      });
    }
    const d = new Quantizer({ kind: 'weight', bits: 2, channels: 3, rangeGrad: false });
    const x = weight.detach().requiresGrad_();
    d.bits(x).sum().backward();
    assert.equal(x.grad === null || x.grad.abs().sum().item() === 0, true, 'detached: no gradient to the weights');
    assert.match(String(d), /range_detached/);
    for (const q of [w, d]) q.dispose();
  });
});

test('learnLower: a non-negative input keeps a learnable b starting at the calibration minimum', () => {
  scope(() => {
    const make = (learnLower: boolean): Quantizer => {
      const q = new Quantizer({ kind: 'activation', bits: 4, learnLower });
      q.calibrating = true;
      q.forward(Tensor.from([0.25, 1, 3.25]));
      q.calibrating = false;
      q.calibrateActivation(8);
      return q;
    };
    const fixed = make(false), learned = make(true);
    assert.equal(fixed.isSigned, false);
    assert.equal(fixed.lower.item(), 0);
    assert.equal(learned.isSigned, true);
    assert.equal(learned.lower.item(), 0.25);
    assert.ok(Math.abs(learned.log2_step.item() - Math.log2(3 / 255)) < 1e-6);
    for (const q of [fixed, learned]) {
      const x = Tensor.from([0.1, 0.5, 2, 3.2]);
      q.forward(x).sum().backward();
    }
    assert.equal(fixed.lower.grad, null);
    // x = 0.1 lies below b = 0.25: its gradient goes to the bound (dlo = Σ g below lo, plus the
    // inside elements' share through x̂ = … + lo), so b receives a non-zero gradient.
    assert.ok(learned.lower.grad !== null && learned.lower.grad.item() !== 0, 'b learns');
    for (const q of [fixed, learned]) q.dispose();
  });
});

test('project(): a quantizer driven below its target\'s last level is raised back into the band, with its gradients intact', () => {
  scope(() => {
    // Activations, target 1: B = λ − σ = 0.2 (one level, a constant) → floorBits(1) = log2(1.5) + 0.05.
    const a = new Quantizer({ kind: 'activation', bits: 1 });
    noGrad(() => { a.log2_step.fill_(-2); a.log2_range.fill_(-1.8); a.signed.fill_(0); });
    a.project();
    assert.ok(Math.abs(a.bits().item() - floorBits(1)) < 1e-6, `B_a = ${a.bits().item()}`);
    assert.ok(Math.abs(floorBits(1) - (Math.log2(1.5) + 0.05)) < 1e-12 && Math.abs(floorBits(2) - (Math.log2(3.5) + 0.05)) < 1e-12);
    const x = Tensor.from([0, 0.1, 0.2, 0.3, 0.5, 1], [6]);
    const codes = a.codes(x).toArray();
    assert.deepEqual([...new Set(codes)].sort(), [0, 1], 'two levels: one bit');
    // Inside the band it is left alone.
    noGrad(() => a.log2_range.fill_(-0.9));
    a.project();
    assert.ok(Math.abs(a.log2_range.item() + 0.9) < 1e-7);
    // No relu on hi: λ gets a gradient at any bit-width (here B = 1.1, hi − lo = (2^1.1 − 1)·s).
    const xin = Tensor.from([0.1, 0.4, 0.9, 2], [4]);
    a.train();
    a.forward(xin).sum().backward();
    assert.ok(Math.abs(a.log2_range.grad!.item()) > 0, 'λ has a gradient');
    // Weights, per channel, target 2: channel 0 at B = log2(1 + 1) = 1 (2 levels) is raised to floorBits(2).
    const w = new Quantizer({ kind: 'weight', bits: 2, channels: 2 });
    const wt = Tensor.from([0, 1, 0, 3], [2, 2]);
    noGrad(() => w.log2_step.copy_(Tensor.from([0, -1], [2])));
    w.project(2, wt);
    const b = w.bits(wt).toArray();
    assert.ok(Math.abs(b[0] - floorBits(2)) < 1e-6, `channel 0: ${b[0]}`);
    assert.ok(Math.abs(b[1] - Math.log2(3 + 0.5) - 1) < 1e-6, 'channel 1 (above the floor) untouched');
    assert.equal(w.trueBitsRange(wt).min, 2, 'channel 0 now has 4 levels');
    assert.throws(() => w.project(2), /a weight quantizer needs the weight/);
  });
});
