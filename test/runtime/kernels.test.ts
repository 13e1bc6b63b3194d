// The low-bit kernels against closed forms: integer sums Σ q_a·q_w bit-exact against a float64
// convolution of the codes, the activation codes bit-exact against the fake quantizer's, the
// full affine epilogue (with a nonzero lower bound at the zero-padded border, residual and ReLU)
// against a float64 convolution of the dequantized operands, on odd shapes and both kernels; the
// same for the depthwise kernel (against a grouped float64 convolution) and for Linear rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, noGrad, manualSeed } from '../../src/engine';
import { fakeQuantize } from '../../src/quant/fake-quant';
import { KernelMode, KERNEL_MODES, ConvGeometry, channelsLast, isChannelsLast, packWeights, quantizeActivations, lowbitConv2d, lowbitLinear, convOutputShape } from '../../src/runtime/kernels';

interface Case { n: number; c: number; h: number; w: number; o: number; k: number; stride: number; pad: number; abits: number; wbits: number }

const CASES: Case[] = [
  { n: 2, c: 16, h: 9, w: 7, o: 16, k: 3, stride: 1, pad: 1, abits: 1, wbits: 1 },   // the specialised 3×3 path
  { n: 2, c: 32, h: 8, w: 8, o: 32, k: 3, stride: 2, pad: 1, abits: 2, wbits: 2 },   // stride 2
  { n: 1, c: 64, h: 5, w: 6, o: 64, k: 3, stride: 1, pad: 1, abits: 2, wbits: 1 },
  { n: 3, c: 5, h: 6, w: 5, o: 7, k: 3, stride: 1, pad: 1, abits: 3, wbits: 2 },     // odd channel counts
  { n: 2, c: 70, h: 4, w: 4, o: 10, k: 3, stride: 1, pad: 0, abits: 2, wbits: 3 },   // C > 64, no padding
  { n: 2, c: 24, h: 6, w: 6, o: 72, k: 1, stride: 1, pad: 0, abits: 4, wbits: 4 },   // 1×1, O > 64
  { n: 1, c: 3, h: 7, w: 7, o: 9, k: 5, stride: 2, pad: 2, abits: 1, wbits: 2 },     // 5×5
  { n: 2, c: 33, h: 5, w: 9, o: 17, k: 3, stride: 1, pad: 1, abits: 8, wbits: 7 },   // 8-bit codes (the generic path)
];

const geo = (c: Case): ConvGeometry => ({ kernel: [c.k, c.k], stride: [c.stride, c.stride], padding: [c.pad, c.pad] });
const ones = (n: number): Tensor => Tensor.ones([n]);
const zeros = (n: number): Tensor => Tensor.zeros([n]);
const randCodes = (shape: number[], bits: number): Tensor => Tensor.rand(shape).mul(2 ** bits).floor().clamp(0, 2 ** bits - 1);

/** An activation tensor whose codes on the grid (lo, step s, `bits`) are random, plus its codes. */
function activations(c: Case, lo: number, s: number): { x: Tensor; codes: Tensor } {
  const codes = randCodes([c.n, c.c, c.h, c.w], c.abits);
  const jitter = Tensor.rand([c.n, c.c, c.h, c.w]).sub(0.5).mul(0.8 * s);  // stays inside each code's interval
  return { x: channelsLast(codes.mul(s).add(lo).add(jitter)), codes };
}

test('integer sums are exact: Σ q_a·q_w equals a float64 convolution of the codes', () => {
  manualSeed(1);
  for (const c of CASES) {
    for (const mode of KERNEL_MODES) {
      if (mode === 'int8' && c.wbits > 7) continue;
      scope(() => {
        const s = 0.25, grid = { lo: 0, hi: (2 ** c.abits - 1) * s, s, bits: c.abits };
        const { x, codes } = activations(c, 0, s);
        const w = randCodes([c.o, c.c, c.k, c.k], c.wbits);
        const acts = quantizeActivations(x, grid, mode, geo(c).padding);
        const y = lowbitConv2d(mode, acts, c.abits, x.shape, packWeights(w.to('uint8'), c.wbits, mode), c.wbits, c.o, geo(c), { alpha: ones(c.o), beta: zeros(c.o), gamma: zeros(c.o) });
        const ref = F.conv2d(codes.to('float64'), w.to('float64'), null, { stride: c.stride, padding: c.pad });
        assert.deepEqual(y.shape, convOutputShape(x.shape, c.o, geo(c)), `${JSON.stringify(c)} ${mode}: shape`);
        assert.ok(isChannelsLast(y));
        assert.equal(y.to('float64').sub(ref).abs().amax().item(), 0, `${JSON.stringify(c)} ${mode}: integer sums`);
      });
    }
  }
});

test('activation codes are the fake quantizer codes, bit for bit (identity 1×1 convolution)', () => {
  manualSeed(2);
  for (const mode of KERNEL_MODES) {
    for (const [c, bits] of [[16, 1], [29, 2], [64, 3], [40, 8]] as [number, number][]) {
      scope(() => {
        // A learned-looking grid: lo ≠ 0, a step that is not a power of two, inputs far outside it.
        const lo = Tensor.from([-0.3]), sigma = Tensor.from([Math.log2(0.37)]);
        const hi = lo.add(Tensor.from([Math.log2(0.37 * (2 ** bits - 1) + 0.37)]).exp2().sub(sigma.exp2()).relu());
        const x = channelsLast(Tensor.randn([2, c, 5, 4]).mul(2 ** bits * 0.3));
        const xq = fakeQuantize(x, lo, hi, sigma, { axis: null, method: 'noise', training: false });
        const want = xq.sub(lo).div(sigma.exp2()).round();
        const grid = { lo: lo.item(), hi: hi.item(), s: sigma.exp2().item(), bits };
        const idw = Tensor.arange(c).reshape([c, 1]).eq(Tensor.arange(c).reshape([1, c])).to('float32').reshape([c, c, 1, 1]);
        const g1: ConvGeometry = { kernel: [1, 1], stride: [1, 1], padding: [0, 0] };
        const got = lowbitConv2d(mode, quantizeActivations(x, grid, mode, [0, 0]), bits, x.shape, packWeights(idw.to('uint8'), 1, mode), 1, c, g1, { alpha: ones(c), beta: zeros(c), gamma: zeros(c) });
        assert.equal(got.sub(want).abs().amax().item(), 0, `${mode} C=${c} ${bits} bits`);
      });
    }
  }
});

test('the epilogue: per-channel affine, lower bound at the zero-padded border, residual, ReLU', () => {
  manualSeed(3);
  for (const c of CASES.slice(0, 7)) {
    for (const mode of KERNEL_MODES) {
      scope(() => noGrad(() => {
        const s = 0.3, lo = -0.45;  // a learned lower bound: x̂ = 0 at the padding is not a code
        const { x, codes } = activations(c, lo, s);
        const wq = randCodes([c.o, c.c, c.k, c.k], c.wbits);
        const sw = Tensor.rand([c.o]).add(0.05), wlo = Tensor.randn([c.o]).mul(0.2);
        const k = Tensor.randn([c.o]), m = Tensor.randn([c.o]);
        const xh = codes.mul(s).add(lo).to('float64');
        const wh = wq.mul(sw.reshape([c.o, 1, 1, 1])).add(wlo.reshape([c.o, 1, 1, 1])).to('float64');
        const conv = F.conv2d(xh, wh, null, { stride: c.stride, padding: c.pad });
        const out = convOutputShape(x.shape, c.o, geo(c));
        const residual = channelsLast(Tensor.randn(out));
        const want = conv.mul(k.to('float64').reshape([1, c.o, 1, 1])).add(m.to('float64').reshape([1, c.o, 1, 1])).add(residual.to('float64')).relu();
        // Σ_valid ŵ: the convolution of an all-ones image (1 inside, 0 in the padding).
        const valid = F.conv2d(Tensor.ones([1, c.c, c.h, c.w]).to('float64'), wh, null, { stride: c.stride, padding: c.pad });
        const biasMap = valid.mul(lo).mul(k.to('float64').reshape([1, c.o, 1, 1])).to('float32').permute([0, 2, 3, 1]).contiguous();
        const ka = k.mul(s);
        const y = lowbitConv2d(mode, quantizeActivations(x, { lo, hi: lo + (2 ** c.abits - 1) * s, s, bits: c.abits }, mode, geo(c).padding), c.abits, x.shape,
          packWeights(wq.to('uint8'), c.wbits, mode), c.wbits, c.o, geo(c),
          { alpha: ka.mul(sw), beta: ka.mul(wlo), gamma: m, biasMap, residual, relu: true });
        const err = y.to('float64').sub(want).abs().amax().item(), scale = want.abs().amax().item();
        assert.ok(err <= 1e-5 * Math.max(1, scale), `${JSON.stringify(c)} ${mode}: max error ${err} (scale ${scale})`);
      }));
    }
  }
});

test('a convolution can write the next layer\'s codes: the same codes as quantizing its output', () => {
  manualSeed(4);
  const c: Case = { n: 2, c: 16, h: 8, w: 8, o: 32, k: 3, stride: 1, pad: 1, abits: 2, wbits: 1 };
  for (const mode of KERNEL_MODES) {
    for (const nextMode of KERNEL_MODES) {
      scope(() => {
        const s = 0.5, grid = { lo: 0, hi: 3 * s, s, bits: 2 };
        const { x } = activations(c, 0, s);
        const w = packWeights(randCodes([c.o, c.c, 3, 3], 1).to('uint8'), 1, mode);
        const e = { alpha: Tensor.rand([c.o]).mul(0.2), beta: Tensor.randn([c.o]).mul(0.01), gamma: Tensor.randn([c.o]), relu: true };
        const acts = quantizeActivations(x, grid, mode, [1, 1]);
        const nextGrid = { lo: 0, hi: 0.9, s: 0.3, bits: 2 };
        const fused = lowbitConv2d(mode, acts, 2, x.shape, w, 1, c.o, geo(c), e, { mode: nextMode, grid: nextGrid, padding: [1, 1] });
        const y = lowbitConv2d(mode, acts, 2, x.shape, w, 1, c.o, geo(c), e);
        const separate = quantizeActivations(y, nextGrid, nextMode, [1, 1]);
        assert.equal(fused.dtype, separate.dtype);
        assert.deepEqual(fused.shape, separate.shape);
        assert.equal(fused.ne(separate).sum().item(), 0, `${mode} → ${nextMode}`);
      });
    }
  }
});

test('bad calls are one-line errors, not crashes', () => {
  scope(() => {
    const x = channelsLast(Tensor.rand([1, 4, 5, 5]));
    const g = { lo: 0, hi: 1, s: 1, bits: 1 };
    const mode: KernelMode = 'bitserial';
    assert.throws(() => quantizeActivations(x, { ...g, s: 0 }, mode, [1, 1]), /lowbitQuantizePlanes: bad activation grid/);
    assert.throws(() => quantizeActivations(x, { ...g, bits: 9 }, mode, [1, 1]), /bits must be in 1\.\.8, got 9/);
    assert.throws(() => quantizeActivations(Tensor.rand([4, 5]), g, mode, [1, 1]), /expected a float32 CPU tensor \[N, C, H, W\]/);
    assert.throws(() => packWeights(Tensor.full([2, 4, 3, 3], 2).to('uint8'), 1, mode), /a weight code does not fit in 1 bits/);
    assert.throws(() => packWeights(Tensor.zeros([2, 4, 3, 3]).to('uint8'), 8, 'int8'), /bits must be in 1\.\.7, got 8/);
    const acts = quantizeActivations(x, g, mode, [1, 1]);
    const w = packWeights(Tensor.zeros([2, 4, 3, 3]).to('uint8'), 1, mode);
    const geo3: ConvGeometry = { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
    const e = { alpha: ones(2), beta: zeros(2), gamma: zeros(2) };
    assert.throws(() => lowbitConv2d(mode, acts, 2, x.shape, w, 1, 2, geo3, e), /activation planes must be a contiguous uint8 CPU tensor/);
    assert.throws(() => lowbitConv2d(mode, acts, 1, [1, 4, 6, 5], w, 1, 2, geo3, e), /activation planes must be/);
    assert.throws(() => lowbitConv2d(mode, acts, 1, x.shape, w, 1, 2, geo3, { ...e, alpha: ones(3) }), /alpha must be a contiguous float32 CPU tensor of 2 elements/);
    const w7 = packWeights(Tensor.zeros([2, 4, 9, 9]).to('uint8'), 1, mode);
    assert.throws(() => lowbitConv2d(mode, acts, 1, x.shape, w7, 1, 2, { ...geo3, kernel: [9, 9] }, e), /the kernel is larger than the padded input/);
  });
});

// Depthwise: o = c, one filter [1, k, k] per channel; odd channel counts (a partial 16-lane
// vector), stride 2, padding, 8-bit codes, 5×5.
const DW_CASES: Case[] = [
  { n: 2, c: 16, h: 9, w: 7, o: 16, k: 3, stride: 1, pad: 1, abits: 4, wbits: 4 },
  { n: 2, c: 5, h: 8, w: 8, o: 5, k: 3, stride: 2, pad: 1, abits: 2, wbits: 2 },
  { n: 1, c: 33, h: 7, w: 6, o: 33, k: 3, stride: 2, pad: 1, abits: 8, wbits: 8 },
  { n: 3, c: 19, h: 5, w: 5, o: 19, k: 5, stride: 1, pad: 2, abits: 3, wbits: 1 },
  { n: 1, c: 40, h: 6, w: 7, o: 40, k: 3, stride: 1, pad: 0, abits: 1, wbits: 3 },
];
const dwRef = (x: Tensor, w: Tensor, c: Case): Tensor => F.conv2d(x.to('float64'), w.to('float64'), null, { stride: c.stride, padding: c.pad, groups: c.c });

test('depthwise: Σ q_a·q_w and each channel\'s window sum Σ q_a are exact (a grouped float64 convolution of the codes)', () => {
  manualSeed(5);
  for (const c of DW_CASES) {
    scope(() => {
      const s = 0.25, grid = { lo: 0, hi: (2 ** c.abits - 1) * s, s, bits: c.abits };
      const { x, codes } = activations(c, 0, s);
      const w = randCodes([c.c, 1, c.k, c.k], c.wbits);
      const acts = quantizeActivations(x, grid, 'depthwise', geo(c).padding);
      const packed = packWeights(w.to('uint8'), c.wbits, 'depthwise');
      const y = lowbitConv2d('depthwise', acts, c.abits, x.shape, packed, c.wbits, c.c, geo(c), { alpha: ones(c.c), beta: zeros(c.c), gamma: zeros(c.c) });
      assert.deepEqual(y.shape, convOutputShape(x.shape, c.c, geo(c)), `${JSON.stringify(c)}: shape`);
      assert.ok(isChannelsLast(y));
      assert.equal(y.to('float64').sub(dwRef(codes, w, c)).abs().amax().item(), 0, `${JSON.stringify(c)}: integer sums`);
      const sums = lowbitConv2d('depthwise', acts, c.abits, x.shape, packed, c.wbits, c.c, geo(c), { alpha: zeros(c.c), beta: ones(c.c), gamma: zeros(c.c) });
      assert.equal(sums.to('float64').sub(dwRef(codes, Tensor.ones([c.c, 1, c.k, c.k]), c)).abs().amax().item(), 0, `${JSON.stringify(c)}: window sums`);
    });
  }
});

test('depthwise epilogue: per-channel affine, lower bound at the zero-padded border, residual, ReLU', () => {
  manualSeed(6);
  for (const c of DW_CASES) {
    scope(() => noGrad(() => {
      const s = 0.3, lo = -0.45;
      const { x, codes } = activations(c, lo, s);
      const wq = randCodes([c.c, 1, c.k, c.k], c.wbits);
      const sw = Tensor.rand([c.c]).add(0.05), wlo = Tensor.randn([c.c]).mul(0.2);
      const k = Tensor.randn([c.c]), m = Tensor.randn([c.c]);
      const per = (t: Tensor): Tensor => t.to('float64').reshape([1, c.c, 1, 1]);
      const wh = wq.mul(sw.reshape([c.c, 1, 1, 1])).add(wlo.reshape([c.c, 1, 1, 1]));
      const out = convOutputShape(x.shape, c.c, geo(c));
      const residual = channelsLast(Tensor.randn(out));
      const want = dwRef(codes.mul(s).add(lo), wh, c).mul(per(k)).add(per(m)).add(residual.to('float64')).relu();
      const biasMap = dwRef(Tensor.ones([1, c.c, c.h, c.w]), wh, c).mul(lo).mul(per(k)).to('float32').permute([0, 2, 3, 1]).contiguous();
      const ka = k.mul(s);
      const y = lowbitConv2d('depthwise', quantizeActivations(x, { lo, hi: lo + (2 ** c.abits - 1) * s, s, bits: c.abits }, 'depthwise', geo(c).padding), c.abits, x.shape,
        packWeights(wq.to('uint8'), c.wbits, 'depthwise'), c.wbits, c.c, geo(c), { alpha: ka.mul(sw), beta: ka.mul(wlo), gamma: m, biasMap, residual, relu: true });
      const err = y.to('float64').sub(want).abs().amax().item(), scale = want.abs().amax().item();
      assert.ok(err <= 1e-5 * Math.max(1, scale), `${JSON.stringify(c)}: max error ${err} (scale ${scale})`);
    }));
  }
});

test('depthwise writes the next layer\'s codes and reads codes a convolution wrote for it', () => {
  manualSeed(7);
  const c: Case = { n: 2, c: 21, h: 7, w: 8, o: 21, k: 3, stride: 2, pad: 1, abits: 3, wbits: 4 };
  scope(() => {
    const s = 0.5, grid = { lo: 0, hi: 7 * s, s, bits: 3 };
    const { x } = activations(c, 0, s);
    const e = { alpha: Tensor.rand([c.c]).mul(0.2), beta: Tensor.randn([c.c]).mul(0.01), gamma: Tensor.randn([c.c]), relu: true };
    const w = packWeights(randCodes([c.c, 1, 3, 3], 4).to('uint8'), 4, 'depthwise');
    const acts = quantizeActivations(x, grid, 'depthwise', [1, 1]);
    const nextGrid = { lo: 0, hi: 0.9, s: 0.3, bits: 2 };
    const y = lowbitConv2d('depthwise', acts, 3, x.shape, w, 4, c.c, geo(c), e);
    for (const nextMode of KERNEL_MODES) {
      const fused = lowbitConv2d('depthwise', acts, 3, x.shape, w, 4, c.c, geo(c), e, { mode: nextMode, grid: nextGrid, padding: [0, 0] });
      assert.equal(fused.ne(quantizeActivations(y, nextGrid, nextMode, [0, 0])).sum().item(), 0, `depthwise → ${nextMode}`);
    }
    // A 1×1 convolution (a MobileNet expand) writing the depthwise layer's padded byte codes.
    const w1 = packWeights(randCodes([c.c, c.c, 1, 1], 1).to('uint8'), 1, 'bitserial');
    const g1: ConvGeometry = { kernel: [1, 1], stride: [1, 1], padding: [0, 0] };
    const planes = quantizeActivations(x, grid, 'bitserial', [0, 0]);
    const h = lowbitConv2d('bitserial', planes, 3, x.shape, w1, 1, c.c, g1, e);
    const fused = lowbitConv2d('bitserial', planes, 3, x.shape, w1, 1, c.c, g1, e, { mode: 'depthwise', grid: nextGrid, padding: [1, 1] });
    assert.equal(fused.ne(quantizeActivations(h, nextGrid, 'depthwise', [1, 1])).sum().item(), 0, 'bitserial → depthwise');
  });
});

test('Linear rows: Σ q_a·q_w and Σ q_a exact against float64 matrix products of the codes, both kernels', () => {
  manualSeed(8);
  for (const [r, fin, fout, abits, wbits] of [[13, 37, 19, 2, 2], [49, 64, 192, 4, 4], [10, 128, 64, 3, 1], [3, 70, 9, 8, 7], [1, 16, 1, 1, 1]]) {
    for (const mode of KERNEL_MODES) {
      scope(() => {
        const s = 0.5, lo = -1.5, grid = { lo, hi: lo + (2 ** abits - 1) * s, s, bits: abits };
        const codes = randCodes([r, fin], abits);
        const x = codes.mul(s).add(lo).add(Tensor.rand([r, fin]).sub(0.5).mul(0.8 * s));
        const w = randCodes([fout, fin], wbits);
        const packed = packWeights(w.to('uint8').reshape([fout, fin, 1, 1]), wbits, mode);
        const y = lowbitLinear(mode, x, grid, packed, wbits, fout, { alpha: ones(fout), beta: zeros(fout), gamma: zeros(fout) });
        assert.deepEqual(y.shape, [r, fout]);
        const what = `${r}×${fin}→${fout} W${wbits}A${abits} ${mode}`;
        assert.equal(y.to('float64').sub(codes.to('float64').matmul(w.to('float64').transpose(0, 1))).abs().amax().item(), 0, `${what}: integer sums`);
        const sums = lowbitLinear(mode, x, grid, packed, wbits, fout, { alpha: zeros(fout), beta: ones(fout), gamma: zeros(fout) });
        assert.equal(sums.sub(codes.sum([1], true).expand([r, fout])).abs().amax().item(), 0, `${what}: row sums`);
      });
    }
  }
});

test('bad depthwise and Linear calls are one-line errors', () => {
  scope(() => {
    const x = channelsLast(Tensor.rand([1, 4, 5, 5]));
    const g = { lo: 0, hi: 1, s: 1, bits: 1 };
    const geo3: ConvGeometry = { kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
    const acts = quantizeActivations(x, g, 'depthwise', [1, 1]);
    const w = packWeights(Tensor.zeros([4, 1, 3, 3]).to('uint8'), 2, 'depthwise');
    assert.throws(() => packWeights(Tensor.zeros([4, 2, 3, 3]).to('uint8'), 2, 'depthwise'), /depthwise weight codes must be \[C, 1, KH, KW\]/);
    assert.throws(() => lowbitConv2d('depthwise', acts, 1, x.shape, w, 2, 3, geo3, { alpha: ones(3), beta: zeros(3), gamma: zeros(3) }), /as many outputs as input channels, got 3 for 4/);
    assert.throws(() => lowbitConv2d('depthwise', acts, 1, x.shape, packWeights(Tensor.zeros([4, 1, 5, 5]).to('uint8'), 2, 'depthwise'), 2, 4, geo3,
      { alpha: ones(4), beta: zeros(4), gamma: zeros(4) }), /depthwise weight codes must be a contiguous int32 CPU tensor/);
    assert.throws(() => lowbitLinear('int8', Tensor.rand([2, 3, 4]), g, w, 1, 4, { alpha: ones(4), beta: zeros(4), gamma: zeros(4) }), /lowbitLinear: expected rows \[R, in\], got \[2, 3, 4\]/);
  });
});
