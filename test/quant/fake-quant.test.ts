import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Tensor, scope, manualSeed, noGrad, getNumThreads, setNumThreads, TypedArray } from '../../src/engine';
import { fakeQuantize, FakeQuantOptions, QuantMethod } from '../../src/quant/fake-quant';
import { referenceFakeQuantize, referenceInputGrad, quantParts, channelSum, broadcastParam, NOISE_RHO } from '../../src/quant/reference';

const LN2 = Math.LN2;

// A small deterministic PRNG for shapes and parameters (libtorch's generator makes the data).
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case { x: Tensor; lo: Tensor; hi: Tensor; sigma: Tensor; axis: number | null }

// Random shape (rank 1..4), axis (or per tensor), bounds and a step giving 1..300 levels. Half
// the cases put the grid on exact binary fractions (s = 2^k, lo a multiple of s) so the planted
// half-way inputs lo + (k + ½)·s are exact; every case plants inputs exactly at lo and at hi.
function randomCase(r: () => number, dtype: 'float32' | 'float64' = 'float32'): Case {
  const rank = 1 + Math.floor(r() * 4);
  const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * 7));
  const axis = r() < 0.3 ? null : Math.floor(r() * rank) - (r() < 0.3 ? rank : 0);
  const C = axis === null ? 1 : shape[axis < 0 ? axis + rank : axis];
  const exact = r() < 0.5;
  const lo: number[] = [], hi: number[] = [], sigma: number[] = [];
  for (let c = 0; c < C; c++) {
    let l = -1.5 + r(), sg = Math.log2((0.05 + 2 * r()) / (1 + 299 * r()));
    if (exact) { sg = Math.floor(sg); l = Math.round(l / 2 ** sg) * 2 ** sg; }
    const h = l + 2 ** sg * (1 + Math.floor(299 * r()));
    lo.push(l); hi.push(exact ? h : l + 0.05 + 2 * r()); sigma.push(exact ? sg : Math.log2((hi[c] - l) / (1 + 299 * r())));
  }
  const pshape = axis === null ? (r() < 0.5 ? [] : [1]) : [C];
  const c = {
    x: Tensor.randn(shape, dtype).mul(1.5), axis,
    lo: Tensor.from(lo, pshape, dtype), hi: Tensor.from(hi, pshape, dtype), sigma: Tensor.from(sigma, pshape, dtype),
  };
  return { ...c, x: plantSpecials(c) };
}

/** x with ~10% of its elements set exactly to lo, ~5% to hi and ~15% to half-way points. */
function plantSpecials(c: Case): Tensor {
  const l = broadcastParam(c.lo, c.x, c.axis).expand(c.x.shape), h = broadcastParam(c.hi, c.x, c.axis).expand(c.x.shape);
  const s = broadcastParam(c.sigma.exp2(), c.x, c.axis).expand(c.x.shape);
  const u = Tensor.rand(c.x.shape, c.x.dtype);
  const k = Tensor.rand(c.x.shape, c.x.dtype).mul(h.sub(l).div(s).floor().sub(1).relu()).floor();
  const half = l.add(k.add(0.5).mul(s));
  return Tensor.where(u.lt(0.1), l, Tensor.where(u.lt(0.15), h, Tensor.where(u.lt(0.3), half, c.x))).contiguous();
}

const withGrad = (c: Case): Case => ({
  ...c, x: c.x.detach().requiresGrad_(), lo: c.lo.detach().requiresGrad_(), hi: c.hi.detach().requiresGrad_(),
  sigma: c.sigma.detach().requiresGrad_(),
});

type Floats = Float32Array | Float64Array;
const floats = (t: Tensor): Floats => t.data() as Floats;

/** Forward + backward with upstream g; returns [dx, dlo, dhi, dsigma]. */
function grads(c: Case, g: Tensor, f: (c: Case) => Tensor): Floats[] {
  return scope(() => {
    const k = withGrad(c);
    f(k).backward(g);
    return [k.x, k.lo, k.hi, k.sigma].map((t) => floats(t.grad ?? Tensor.zeros(t.shape, t.dtype)));
  });
}

const fq = (o: Partial<FakeQuantOptions> & { method: QuantMethod }) => (c: Case): Tensor =>
  fakeQuantize(c.x, c.lo, c.hi, c.sigma, { axis: c.axis, ...o });

const bitsOf = (a: TypedArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function assertBitEqual(a: TypedArray, b: TypedArray, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.compare(bitsOf(a), bitsOf(b)) === 0, `${what}: not bit-identical`);
}
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: ArrayLike<number> | number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const t = typeof tol === 'number' ? tol : tol[i];
    assert.ok(Math.abs(a[i] - b[i]) <= t, `${what}[${i}]: ${a[i]} vs ${b[i]} (tolerance ${t})`);
  }
}

test('codes are integers inside [0, round((hi − lo)/s)], in training and in evaluation', () => {
  manualSeed(1);
  const r = rng(1);
  scope(() => {
    for (let k = 0; k < 40; k++) {
      const c = randomCase(r);
      const lo = floats(c.lo), hi = floats(c.hi), s = floats(c.sigma.exp2());
      for (const training of [true, false]) {
        const { code } = quantParts(c.x, c.lo, c.hi, c.sigma, c.axis);
        const y = fq({ method: 'noise', training })(c);
        // Recover the code from the output alone: (x̂ − lo)/s per element.
        const v = y.sub(broadcastParam(c.lo, c.x, c.axis)).div(broadcastParam(c.sigma.exp2(), c.x, c.axis));
        const ch = floats(c.axis === null ? Tensor.zeros(c.x.shape) : broadcastParam(Tensor.arange(lo.length, undefined, 1, 'float32'), c.x, c.axis).expand(c.x.shape).contiguous());
        const got = floats(v), ref = floats(code);
        for (let i = 0; i < got.length; i++) {
          const j = ch[i];
          const top = Math.round((hi[j] - lo[j]) / s[j]);
          assert.ok(Math.abs(got[i] - Math.round(got[i])) < 1e-3, `case ${k}: code ${got[i]} is not an integer`);
          assert.ok(Math.round(got[i]) >= 0 && Math.round(got[i]) <= top, `case ${k}: code ${got[i]} outside [0, ${top}]`);
          assert.equal(Math.round(got[i]), ref[i]);
        }
      }
    }
  });
});

test('forward equals the tensor-op reference bit for bit (kernel and ATen paths, float32 and float64)', () => {
  manualSeed(2);
  const r = rng(2);
  scope(() => {
    const cases = Array.from({ length: 30 }, (_, k) => randomCase(r, k % 3 === 2 ? 'float64' : 'float32'));
    // Several kernel chunks (16384 elements) with rows that do not align to the 32-lane blocks.
    cases.push({ x: Tensor.randn([3, 37, 701]), axis: 1, lo: Tensor.full([37], -1), hi: Tensor.full([37], 1.5),
      sigma: Tensor.full([37], -5.3) });
    cases.push({ x: Tensor.randn([70001]), axis: null, lo: Tensor.scalar(-0.7), hi: Tensor.scalar(2), sigma: Tensor.scalar(-7.1) });
    for (const [k, c] of cases.entries()) {
      const ref = referenceFakeQuantize(c.x, c.lo, c.hi, c.sigma, { axis: c.axis }).data();
      assertBitEqual(fq({ method: 'lsq' })(c).data(), ref, `case ${k} kernel`);
      assertBitEqual(fq({ method: 'noise', forceAten: true })(c).data(), ref, `case ${k} aten`);
    }
  });
});

test('half-way values round to even (torch.round), in the kernel and the ATen path', () => {
  scope(() => {
    // s = 2^-3 and lo = -1: v = (x + 1)·8 is exact, so x = -1 + (k + ½)/8 sits on a half.
    const ks = [0, 1, 2, 3, 4, 5, 14, 15];
    const x = Tensor.from(ks.map((k) => -1 + (k + 0.5) / 8));
    const args = [Tensor.scalar(-1), Tensor.scalar(1), Tensor.scalar(-3)] as const;
    const want = ks.map((k) => -1 + (k % 2 === 0 ? k : k + 1) / 8);
    for (const forceAten of [false, true]) {
      assert.deepEqual(Array.from(floats(fakeQuantize(x, ...args, { axis: null, method: 'lsq', forceAten }))), want);
    }
  });
});

test('weights (lo = min, hi = max per channel): every element passes its gradient, extremes are exact codes', () => {
  manualSeed(11);
  scope(() => {
    const w = Tensor.randn([6, 3, 3, 3]).requiresGrad_();
    const lo = w.amin([1, 2, 3]), hi = w.amax([1, 2, 3]);
    const sigma = hi.sub(lo).div(15).log2().detach().requiresGrad_();  // 4 bits
    const g = Tensor.randn(w.shape);
    fakeQuantize(w, lo, hi, sigma, { axis: 0, method: 'noise' }).backward(g);
    // dlo = dhi = 0 (nothing lies outside), so amin/amax send nothing back: dw = g exactly.
    assertBitEqual(floats(w.grad!), floats(g), 'dw');
    const y = fakeQuantize(w.detach(), lo.detach(), hi.detach(), sigma.detach(), { axis: 0, method: 'lsq' });
    assertBitEqual(floats(y.amin([1, 2, 3])), floats(lo), 'min element maps to lo');
    const top = floats(hi.sub(lo).div(sigma.exp2()).round().mul(sigma.exp2()).add(lo));
    assertBitEqual(floats(y.amax([1, 2, 3])), top, 'max element maps to the top code');
  });
});

test('lsq backward: dx = STE mask × g exactly; dlo, dhi, dsigma match the reference and the closed form', () => {
  manualSeed(3);
  const r = rng(3);
  scope(() => {
    for (let k = 0; k < 30; k++) {
      const c = randomCase(r);
      const g = Tensor.randn(c.x.shape);
      const [dx, dlo, dhi, dsig] = grads(c, g, fq({ method: 'lsq' }));
      const [rdx, rlo, rhi, rsig] = grads(c, g, (q) => referenceFakeQuantize(q.x, q.lo, q.hi, q.sigma, { axis: q.axis }));
      const { e, inside } = quantParts(c.x, c.lo, c.hi, c.sigma, c.axis);
      assertBitEqual(dx, Tensor.where(inside, g, 0).data(), `case ${k} dx`);
      assertBitEqual(dx, rdx, `case ${k} dx vs reference`);
      // Float sums in another order: bound the difference by 1e-6 · Σ|g| of the channel.
      const gabs = floats(channelSum(g.abs(), c.axis));
      const tol = Array.from(gabs, (v) => 1e-6 * (1 + v));
      assertClose(dlo, rlo, tol, `case ${k} dlo`);
      assertClose(dhi, rhi, tol, `case ${k} dhi`);
      const s = c.sigma.exp2().reshape([-1]).to('float64');
      const closed = floats(channelSum(g.to('float64').mul(e.to('float64')), c.axis).mul(s).mul(LN2));
      const stol = Array.from(floats(s), (sv, i) => 1e-6 * (1 + gabs[i]) * sv);
      assertClose(dsig, closed, stol, `case ${k} dsigma vs Σ g·e·s·ln2`);
      assertClose(dsig, rsig, stol, `case ${k} dsigma vs reference`);
    }
  });
});

test('ATen path gives the kernel gradients (same random signs for noise)', () => {
  const r = rng(4);
  scope(() => {
    for (let k = 0; k < 12; k++) {
      const c = randomCase(r, k % 2 ? 'float64' : 'float32');
      const g = Tensor.randn(c.x.shape, c.x.dtype);
      for (const method of ['lsq', 'noise', 'ewgs', 'aewgs'] as const) {
        manualSeed(40 + k);
        const a = grads(c, g, fq({ method }));
        manualSeed(40 + k);
        const b = grads(c, g, fq({ method, forceAten: true }));
        const tol = 1e-5 * (1 + g.abs().sum().item());
        for (let q = 0; q < 4; q++) assertClose(a[q], b[q], q === 0 ? 1e-6 : tol, `case ${k} ${method} grad ${q}`);
      }
    }
  });
});

test('ewgs and aewgs input gradients match the reference and the authors\' closed form', () => {
  manualSeed(5);
  scope(() => {
    const x = Tensor.randn([6, 4, 50]);
    const c: Case = { x, axis: 1, lo: Tensor.full([4], -1.2), hi: Tensor.full([4], 1.3), sigma: Tensor.full([4], -4) };
    const { e, inside } = quantParts(c.x, c.lo, c.hi, c.sigma, c.axis);
    const noise = Tensor.randn(x.shape);
    // Upstream gradients correlated, strongly correlated and anti-correlated with e.
    const gs = { mild: e.add(noise.mul(0.5)), strong: e.sign(), anti: e.neg().add(noise.mul(0.1)), random: noise };
    const ef = floats(e), inf = floats(inside.float());
    for (const [name, g] of Object.entries(gs)) {
      for (const [method, delta] of [['ewgs', 0.2], ['ewgs', undefined], ['aewgs', undefined]] as const) {
        const [dx] = grads(c, g, fq({ method, delta }));
        const ref = floats(referenceInputGrad(c.x, c.lo, c.hi, c.sigma, g, { axis: c.axis, method, delta }));
        assertClose(dx, ref, 1e-6, `${name} ${method} ${delta}`);
      }
      // The closed form in plain numbers: per channel δ = mean(sign(g)·e)/max(var e, 1e-3) over the
      // inside elements, dx = g·max(1 − δ·sign(g)·e, 0.01); x is [6, 4, 50], channel = (i / 50) % 4.
      const gf = floats(g);
      const chan = (i: number): number => Math.floor(i / 50) % 4;
      const acc = Array.from({ length: 4 }, () => ({ n: 0, se: 0, e: 0, e2: 0 }));
      gf.forEach((gv, i) => {
        if (!inf[i]) return;
        const a = acc[chan(i)];
        a.n++; a.se += Math.sign(gv) * ef[i]; a.e += ef[i]; a.e2 += ef[i] * ef[i];
      });
      const deltas = acc.map((a) => (a.se / a.n) / Math.max(a.e2 / a.n - (a.e / a.n) ** 2, 1e-3));
      const want = Array.from(gf, (gv, i) => (inf[i] ? gv * Math.max(1 - deltas[chan(i)] * Math.sign(gv) * ef[i], 0.01) : 0));
      const [dx] = grads(c, g, fq({ method: 'aewgs' }));
      assertClose(dx, want, 1e-5, `${name}: aewgs closed form`);
      // Not clamped: anti-correlated upstream gradients give δ < 0, strongly correlated δ > 1.
      if (name === 'anti') assert.ok(deltas.every((d) => d < 0), `anti: δ = ${deltas}`);
      if (name === 'strong') {
        assert.ok(deltas.every((d) => d > 1), `strong: δ = ${deltas}`);
        assert.ok(want.some((v, i) => inf[i] && v === gf[i] * 0.01), 'strong: the 0.01 floor is reached');
      }
    }
  });
});

test('ewgs and aewgs keep the noise step gradient (the reference); lsq has none; evaluation has none', () => {
  scope(() => {
    manualSeed(9);
    const c: Case = { x: Tensor.randn([64, 8]), axis: 1, lo: Tensor.full([8], -1), hi: Tensor.full([8], 1), sigma: Tensor.full([8], -3) };
    const g = Tensor.randn(c.x.shape);
    const lsq = grads(c, g, fq({ method: 'lsq' }))[3];
    for (const method of ['ewgs', 'aewgs'] as const) {
      manualSeed(21);
      const a = grads(c, g, fq({ method }))[3];
      manualSeed(21);
      const n = grads(c, g, fq({ method: 'noise' }))[3];
      assertBitEqual(a, n, `${method}: dσ is the noise variant's (same signs)`);
      assert.ok(Array.from(a).some((v, i) => Math.abs(v - lsq[i]) > 1e-6), `${method}: dσ has noise`);
      assertBitEqual(grads(c, g, fq({ method, training: false }))[3], lsq, `${method} in evaluation: Σ g·e`);
    }
  });
});

test('noise: dx, dlo, dhi are the lsq ones; the step-gradient noise is ±ρ·g·s²·ln2, fresh per element and call', () => {
  const C = 4096;
  scope(() => {
    manualSeed(6);
    // One element per channel: the noise of channel i is g_i·s_i·ρ_i·s_i·ln2 with ρ_i = ±1/(2√3).
    const c: Case = { x: Tensor.randn([C]), axis: 0, lo: Tensor.full([C], -1), hi: Tensor.full([C], 1),
      sigma: Tensor.rand([C]).mul(-3).sub(2) };
    const g = Tensor.randn([C]);
    const lsq = grads(c, g, fq({ method: 'lsq' }));
    const s = floats(c.sigma.exp2()), gd = floats(g);
    const draws: number[][] = [];
    for (let call = 0; call < 8; call++) {
      const noisy = grads(c, g, fq({ method: 'noise' }));
      for (let q = 0; q < 3; q++) assertBitEqual(noisy[q], lsq[q], `call ${call} grad ${q}`);
      const rho = Array.from(noisy[3], (v, i) => (v - lsq[3][i]) / (gd[i] * s[i] * s[i] * LN2));
      for (const v of rho) assert.ok(Math.abs(Math.abs(v) - NOISE_RHO) < 1e-3 * NOISE_RHO, `|ρ| = ${Math.abs(v)}`);
      draws.push(rho.map(Math.sign));
    }
    // Signs: mean 0 (so E[ρ] = 0, var ρ = 1/12), neighbours and successive calls uncorrelated.
    const n = C * draws.length;
    const mean = draws.flat().reduce((a, b) => a + b, 0) / n;
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean sign ${mean}`);
    const rhos = draws.flat().map((v) => v * NOISE_RHO);
    const variance = rhos.reduce((a, b) => a + b * b, 0) / n - (mean * NOISE_RHO) ** 2;
    assert.ok(Math.abs(variance - 1 / 12) < 1e-3, `variance ${variance}`);
    let neighbours = 0, calls = 0;
    for (const d of draws) for (let i = 1; i < C; i++) neighbours += d[i] * d[i - 1];
    for (let k = 1; k < draws.length; k++) for (let i = 0; i < C; i++) calls += draws[k][i] * draws[k - 1][i];
    const m = draws.length;
    assert.ok(Math.abs(neighbours / (m * (C - 1))) < 5 / Math.sqrt(m * (C - 1)), `neighbour correlation ${neighbours}`);
    assert.ok(Math.abs(calls / ((m - 1) * C)) < 5 / Math.sqrt((m - 1) * C), `call-to-call correlation ${calls}`);
  });
});

test('noise: the σ-gradient averaged over 200 calls is the closed form Σ g·e·s·ln2 (within 5 standard errors)', () => {
  manualSeed(7);
  scope(() => {
    const c: Case = { x: Tensor.randn([8, 3, 40]), axis: 1, lo: Tensor.from([-1, -2, -0.5]), hi: Tensor.from([1, 1.5, 2]),
      sigma: Tensor.from([-3, -2.5, -4]) };
    const g = Tensor.randn(c.x.shape);
    const { e } = quantParts(c.x, c.lo, c.hi, c.sigma, c.axis);
    const s = c.sigma.exp2().to('float64');
    const closed = floats(channelSum(g.to('float64').mul(e.to('float64')), 1).mul(s).mul(LN2));
    const sumG2 = floats(channelSum(g.to('float64').square(), 1));
    const K = 200;
    const mean = new Float64Array(3);
    for (let k = 0; k < K; k++) grads(c, g, fq({ method: 'noise' }))[3].forEach((v, i) => { mean[i] += v / K; });
    // Per call the noise of channel i is s_i²·ln2·ρ·Σ ±g: standard deviation s_i²·ln2·ρ·√Σg².
    const sd = Array.from(floats(s), (sv, i) => (sv * sv * LN2 * NOISE_RHO * Math.sqrt(sumG2[i])) / Math.sqrt(K));
    assertClose(mean, closed, sd.map((v) => 5 * v + 1e-6), 'mean dsigma');
    // And the noise is really there: one call is far from the closed form.
    const one = grads(c, g, fq({ method: 'noise' }))[3];
    assert.ok(Array.from(one).some((v, i) => Math.abs(v - closed[i]) > 0.2 * sd[i] * Math.sqrt(K)), 'no noise');
  });
});

test('noise: same seed ⇒ identical gradient whatever the thread count; another seed ⇒ another; eval is lsq', () => {
  scope(() => {
    manualSeed(8);
    const c: Case = { x: Tensor.randn([50000]), axis: null, lo: Tensor.scalar(-1), hi: Tensor.scalar(1), sigma: Tensor.scalar(-3) };
    const g = Tensor.randn([50000]);
    const run = (seed: number): Floats => { manualSeed(seed); return grads(c, g, fq({ method: 'noise' }))[3]; };
    const a = run(11);
    const threads = getNumThreads();
    setNumThreads(1);
    try {
      assertBitEqual(run(11), a, 'same seed, one thread');
    } finally {
      setNumThreads(threads);
    }
    assertBitEqual(run(11), a, 'same seed');
    assert.notEqual(run(12)[0], a[0]);
    const lsq = grads(c, g, fq({ method: 'lsq' }))[3];
    manualSeed(13);
    const before = Tensor.rand([1]).item();
    manualSeed(13);
    assertBitEqual(grads(c, g, fq({ method: 'noise', training: false }))[3], lsq, 'training: false');
    assert.equal(Tensor.rand([1]).item(), before, 'evaluation must not draw random numbers');
  });
});

// The STE gradient is the exact gradient of the surrogate x̃ = clamp(x, lo, hi) + s·e with the
// rounding error e frozen (GDNSQ.md §2: x̂ = (v + e)·s + z, e passing no gradient). The real
// output is piecewise constant in λ above hi, so central differences are taken of Σ w·x̃, with
// hi = b + 2^λ − 2^σ built from the parameters by autograd as the activation quantizer does.
test('float64 finite differences of the surrogate match autograd through lo = b, hi = b + 2^λ − 2^σ', () => {
  manualSeed(9);
  scope(() => {
    const C = 3;
    const b0 = [-1, -0.4, 0.2], lam0 = [1.1, 0.6, 1.7], sig0 = [-2.3, -3.1, -1.6];
    // Per channel: 5 elements below lo, 5 above hi, 30 inside with v at least 0.1 from a half.
    const xs: number[] = [];
    for (let n = 0; n < 4; n++) for (let c = 0; c < C; c++) for (let j = 0; j < 40; j++) {
      const lo = b0[c], s = 2 ** sig0[c], hi = lo + 2 ** lam0[c] - s;
      const u = (j * 7919 + n * 104729 + c * 31) % 1000 / 1000;
      if (j < 5) xs.push(lo - 0.05 - u);
      else if (j < 10) xs.push(hi + 0.05 + u);
      else {
        const levels = Math.floor((hi - lo) / s);
        xs.push(lo + s * (Math.floor(u * levels) + (u < 0.5 ? 0.1 + 0.3 * u : 0.6 + 0.3 * u)));
      }
    }
    const x = Tensor.from(xs, [4, C, 40], 'float64');
    const w = Tensor.randn([4, C, 40], 'float64');
    const bounds = (b: Tensor, lam: Tensor, sig: Tensor): [Tensor, Tensor] => [b, b.add(lam.exp2()).sub(sig.exp2())];
    const params = [b0, lam0, sig0].map((v) => Tensor.from(v, [C], 'float64').requiresGrad_());
    const [lo, hi] = bounds(params[0], params[1], params[2]);
    fakeQuantize(x, lo, hi, params[2], { axis: 1, method: 'lsq' }).mul(w).sum().backward();
    const auto = params.map((p) => floats(p.grad!));
    const { e } = quantParts(x, lo.detach(), hi.detach(), params[2].detach(), 1);
    const surrogate = (vals: number[][]): number => noGrad(() => {
      const [b, lam, sig] = vals.map((v) => Tensor.from(v, [C], 'float64'));
      const [l, h] = bounds(b, lam, sig);
      const xt = x.clamp(broadcastParam(l, x, 1), broadcastParam(h, x, 1)).add(broadcastParam(sig.exp2(), x, 1).mul(e));
      return xt.mul(w).sum().item();
    });
    const base = [b0, lam0, sig0];
    // The surrogate equals the real output at the base point.
    assert.ok(Math.abs(surrogate(base) - fakeQuantize(x, lo, hi, params[2], { axis: 1, method: 'lsq' }).mul(w).sum().item()) < 1e-9);
    const h = 1e-6;
    for (let p = 0; p < 3; p++) {
      for (let c = 0; c < C; c++) {
        const shifted = (d: number): number[][] => base.map((v, q) => v.map((u, k) => (q === p && k === c ? u + d : u)));
        const fd = (surrogate(shifted(h)) - surrogate(shifted(-h))) / (2 * h);
        assert.ok(Math.abs(fd - auto[p][c]) < 1e-6 * (1 + Math.abs(fd)), `param ${p} channel ${c}: fd ${fd} vs autograd ${auto[p][c]}`);
        assert.ok(Math.abs(fd) > 1e-3, `param ${p} channel ${c}: gradient should not vanish`);
      }
    }
  });
});

test('non-contiguous x, [] and [1] parameters, empty x: same results, gradients shaped like the parameters', () => {
  manualSeed(10);
  scope(() => {
    const x = Tensor.randn([5, 7]);
    const lo = Tensor.full([5], -1), hi = Tensor.full([5], 1), sigma = Tensor.full([5], -3);
    const a = fakeQuantize(x.transpose(0, 1), lo, hi, sigma, { axis: 1, method: 'lsq' });
    const b = fakeQuantize(x, lo, hi, sigma, { axis: 0, method: 'lsq' }).transpose(0, 1);
    assertBitEqual(a.contiguous().data(), b.contiguous().data(), 'transposed');
    for (const pshape of [[], [1]]) {
      const c = withGrad({ x: Tensor.randn([3, 4]), axis: null, lo: Tensor.full(pshape, -1), hi: Tensor.full(pshape, 1), sigma: Tensor.full(pshape, -2) });
      fq({ method: 'noise' })(c).sum().backward();
      for (const t of [c.lo, c.hi, c.sigma]) assert.deepEqual(t.grad!.shape, pshape);
    }
    const empty = withGrad({ x: Tensor.zeros([0, 3]), axis: 1, lo: Tensor.full([3], -1), hi: Tensor.full([3], 1), sigma: Tensor.full([3], -2) });
    const y = fq({ method: 'noise' })(empty);
    assert.deepEqual(y.shape, [0, 3]);
    y.sum().backward();
    assert.deepEqual(Array.from(floats(empty.sigma.grad!)), [0, 0, 0]);
  });
});

test('bad input: one-line errors naming the problem', () => {
  scope(() => {
    const x = Tensor.randn([2, 3, 4]);
    const p3 = Tensor.zeros([3]), p4 = Tensor.zeros([4]);
    const call = (o: Partial<{ x: Tensor; lo: Tensor; hi: Tensor; sigma: Tensor }>, opts: FakeQuantOptions) => () =>
      fakeQuantize(o.x ?? x, o.lo ?? p3, o.hi ?? Tensor.ones([3]), o.sigma ?? p3, opts);
    const cases: [() => unknown, string][] = [
      [call({ lo: p4 }, { axis: 1, method: 'lsq' }),
        'fakeQuantize: lo has shape [4] but x has 3 channels along axis 1 (shape [2, 3, 4]): expected [3]'],
      [call({ sigma: Tensor.zeros([3, 1]) }, { axis: -2, method: 'lsq' }),
        'fakeQuantize: sigma has shape [3, 1] but x has 3 channels along axis 1 (shape [2, 3, 4]): expected [3]'],
      [call({}, { axis: null, method: 'lsq' }),
        'fakeQuantize: lo has shape [3] but per-tensor quantization (axis null) needs [] or [1]'],
      [call({}, { axis: 3, method: 'lsq' }), 'fakeQuantize: axis 3 is out of range for x of shape [2, 3, 4] (3 dims)'],
      [call({}, { axis: -4, method: 'lsq' }), 'fakeQuantize: axis -4 is out of range for x of shape [2, 3, 4] (3 dims)'],
      [call({}, { axis: 1.5, method: 'lsq' }), 'fakeQuantize: axis must be an integer or null, got 1.5'],
      [call({ x: Tensor.zeros([2, 3, 4], 'int64') }, { axis: 1, method: 'lsq' }),
        'fakeQuantize: x must be a floating-point tensor, got int64'],
      [call({ hi: Tensor.from([1, -0.25, 1]), lo: Tensor.from([0, 0.5, 0]) }, { axis: 1, method: 'lsq' }),
        'fakeQuantize: hi < lo in channel 1 (lo = 0.5, hi = -0.25)'],
      [call({ lo: Tensor.scalar(2), hi: Tensor.scalar(1), sigma: Tensor.scalar(0) }, { axis: null, method: 'lsq' }),
        'fakeQuantize: hi < lo (lo = 2, hi = 1)'],
      [call({}, { axis: 1, method: 'round' as QuantMethod }),
        "fakeQuantize: unknown method 'round' (noise, lsq, ewgs, aewgs)"],
      [call({}, { axis: 1, method: 'ewgs', delta: -1 }), 'fakeQuantize: delta must be a finite number ≥ 0, got -1'],
    ];
    for (const [fn, message] of cases) assert.throws(fn, { message });
  });
});
