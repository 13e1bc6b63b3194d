// Tensor API: creation, dtypes, seeding, views and indexing, elementwise ops, reductions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, DTYPES, scope, manualSeed, getNumThreads, setNumThreads, cudaAvailable, torchVersion,
} from '../../src/engine';

const arr = (t: Tensor): number[] => t.toArray();
const m23 = (): Tensor => Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);

test('creation from typed arrays, number arrays and scalars', () => scope(() => {
  const f = Tensor.from(new Float32Array([1.5, -2, 3]));
  assert.equal(f.dtype, 'float32');
  assert.deepEqual(f.shape, [3]);
  assert.deepEqual(arr(f), [1.5, -2, 3]);

  const l = Tensor.from(new BigInt64Array([1n, -(2n ** 40n)]));
  assert.equal(l.dtype, 'int64');
  assert.deepEqual(Array.from(l.data() as BigInt64Array), [1n, -(2n ** 40n)]);

  // A typed array in an odd window of a larger buffer: only the window is copied.
  const big = new Int32Array([9, 8, 7, 6, 5]);
  const w = Tensor.from(new Int32Array(big.buffer, 4, 3), [3]);
  assert.deepEqual(arr(w), [8, 7, 6]);

  assert.deepEqual(arr(Tensor.from([1, 2, 3, 4], [2, 2], 'float64')), [1, 2, 3, 4]);
  assert.equal(Tensor.from([1, 2], [2], 'float64').dtype, 'float64');
  assert.deepEqual(arr(Tensor.from([1.9, -1.9], [2], 'int64')), [1, -1], 'int64 from numbers truncates');
  // bool is value != 0, whatever the source bytes.
  assert.deepEqual(arr(Tensor.from([0, 2, -1, 0.5], [4], 'bool')), [0, 1, 1, 1]);
  assert.deepEqual(arr(Tensor.from(new Uint8Array([0, 2, 255]), [3], 'bool')), [0, 1, 1]);
  assert.deepEqual(arr(Tensor.from(new Float32Array([1.5, 2.5]), [2], 'int32')), [1, 2]);

  const s = Tensor.scalar(3.25, 'float64');
  assert.deepEqual(s.shape, []);
  assert.equal(s.ndim, 0);
  assert.equal(s.numel, 1);
  assert.equal(s.item(), 3.25);
}));

test('zeros, ones, full, arange, *Like', () => scope(() => {
  assert.deepEqual(arr(Tensor.zeros([2, 2])), [0, 0, 0, 0]);
  assert.deepEqual(arr(Tensor.ones([3], 'int32')), [1, 1, 1]);
  assert.deepEqual(arr(Tensor.full([2], -7.5, 'float64')), [-7.5, -7.5]);
  assert.deepEqual(Tensor.zeros([0, 3]).shape, [0, 3]);
  const a = Tensor.arange(5);
  assert.equal(a.dtype, 'int64');
  assert.deepEqual(arr(a), [0, 1, 2, 3, 4]);
  assert.deepEqual(arr(Tensor.arange(2, 11, 3)), [2, 5, 8]);
  const fa = Tensor.arange(0, 1, 0.25);
  assert.equal(fa.dtype, 'float32', 'fractional bounds give float32, as in PyTorch');
  assert.deepEqual(arr(fa), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(arr(Tensor.arange(3, undefined, 1, 'float64')), [0, 1, 2]);
  const x = Tensor.full([2, 3], 4, 'int32');
  assert.deepEqual([Tensor.zerosLike(x).dtype, ...arr(Tensor.zerosLike(x))], ['int32', 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(arr(Tensor.onesLike(x)), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Tensor.randLike(Tensor.zeros([4, 5])).shape, [4, 5]);
}));

test('every dtype: creation, data() array type, conversion', () => scope(() => {
  const kinds: Record<string, string> = {
    float32: 'Float32Array', float64: 'Float64Array', int64: 'BigInt64Array', int32: 'Int32Array', uint8: 'Uint8Array', bool: 'Uint8Array',
  };
  for (const dt of DTYPES) {
    const t = Tensor.ones([2], dt);
    assert.equal(t.dtype, dt);
    assert.equal(t.data().constructor.name, kinds[dt]);
    assert.deepEqual(arr(t), [1, 1]);
  }
  const f = Tensor.from([1.7, -1.7, 0, 300]);
  assert.deepEqual(arr(f.to('int32')), [1, -1, 0, 300]);
  assert.deepEqual(arr(f.to('bool')), [1, 1, 0, 1]);
  assert.deepEqual(arr(Tensor.from([300], [1], 'int32').to('uint8')), [44], 'uint8 wraps modulo 256');
  assert.equal(f.float().dtype, 'float32');
}));

test('device: cpu, to(dtype, device), cuda only where linked', () => scope(() => {
  const t = Tensor.ones([2]);
  assert.equal(t.device, 'cpu');
  const u = t.to('float64', 'cpu');
  assert.equal(u.device, 'cpu');
  assert.equal(u.dtype, 'float64');
  assert.equal(t.to(undefined, 'cpu').dtype, 'float32');
  if (!cudaAvailable()) assert.throws(() => t.to(undefined, 'cuda'), /^Error: to: /);
  assert.match(torchVersion(), /^\d+\.\d+/);
  assert.equal(t.toString(), 'Tensor(float32, [2], cpu)');
}));

test('same seed gives the same numbers; another seed does not', () => scope(() => {
  const draw = (seed: number): number[] => {
    manualSeed(seed);
    return [...arr(Tensor.rand([4])), ...arr(Tensor.randn([4])), ...arr(Tensor.randint(0, 100, [4])), ...arr(Tensor.randperm(6))];
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  manualSeed(1);
  const u = arr(Tensor.rand([1000]));
  assert.ok(u.every((v) => v >= 0 && v < 1));
  assert.ok(Math.abs(u.reduce((a, b) => a + b) / 1000 - 0.5) < 0.05);
  const n = Tensor.randn([4000], 'float64');
  assert.equal(n.dtype, 'float64');
  assert.ok(Math.abs(n.mean().item()) < 0.1 && Math.abs(n.std().item() - 1) < 0.1);
  const r = Tensor.randint(-3, 3, [500]);
  assert.equal(r.dtype, 'int64');
  const rv = arr(r);
  assert.ok(rv.every((v) => v >= -3 && v < 3) && rv.includes(-3) && rv.includes(2));
  assert.deepEqual(arr(Tensor.randperm(5)).sort(), [0, 1, 2, 3, 4]);
  const b = Tensor.ones([1000]).bernoulli(0.25);
  assert.ok(arr(b).every((v) => v === 0 || v === 1) && Math.abs(b.mean().item() - 0.25) < 0.06);
}));

test('shape, reshape, view, permute, transpose, contiguous', () => scope(() => {
  const x = m23();
  assert.deepEqual(x.shape, [2, 3]);
  assert.equal(x.size(-1), 3);
  assert.equal(x.numel, 6);
  assert.deepEqual(x.reshape([3, -1]).shape, [3, 2]);
  assert.deepEqual(arr(x.view([6])), [1, 2, 3, 4, 5, 6]);
  const t = x.transpose(0, 1);
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(arr(t), [1, 4, 2, 5, 3, 6]);
  assert.equal(t.isContiguous, false);
  assert.throws(() => t.view([6]), /^Error: view: .*view size is not compatible/);
  assert.equal(t.contiguous().isContiguous, true);
  assert.deepEqual(arr(t.contiguous().view([6])), [1, 4, 2, 5, 3, 6]);
  const p = Tensor.arange(24).reshape([2, 3, 4]).permute([2, 0, 1]);
  assert.deepEqual(p.shape, [4, 2, 3]);
  assert.deepEqual(arr(p.select(0, 1)), [1, 5, 9, 13, 17, 21]);
  assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
  assert.deepEqual(x.unsqueeze(0).squeeze().shape, [2, 3]);
  assert.deepEqual(Tensor.zeros([2, 1, 3]).squeeze(1).shape, [2, 3]);
  assert.deepEqual(arr(Tensor.from([1, 2]).reshape([2, 1]).expand([2, 3])), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(Tensor.zeros([2, 3, 4, 5]).flatten(1).shape, [2, 60]);
  assert.deepEqual(arr(x.clone()), arr(x));
}));

test('slicing, narrow, select, indexSelect, gather, cat, stack, flip, pad, oneHot', () => scope(() => {
  const x = Tensor.arange(12).reshape([3, 4]);
  assert.deepEqual(arr(x.slice(1, 1, 4, 2)), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(arr(x.slice(0, 1)), [4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(arr(x.slice(1, -1)), [3, 7, 11]);
  assert.deepEqual(arr(x.narrow(0, 1, 1)), [4, 5, 6, 7]);
  assert.deepEqual(arr(x.select(1, -1)), [3, 7, 11]);
  assert.deepEqual(arr(x.indexSelect(0, Tensor.from([2, 0, 2], [3], 'int64'))), [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
  assert.deepEqual(arr(x.gather(1, Tensor.from([3, 0, 1, 1, 2, 0], [3, 2], 'int64'))), [3, 0, 5, 5, 10, 8]);
  const a = Tensor.from([1, 2], [1, 2]);
  const b = Tensor.from([3, 4, 5, 6], [2, 2]);
  assert.deepEqual(arr(Tensor.cat([a, b], 0)), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Tensor.cat([a, b], 0).shape, [3, 2]);
  const s = Tensor.stack([Tensor.from([1, 2]), Tensor.from([3, 4])], 1);
  assert.deepEqual([s.shape, arr(s)], [[2, 2], [1, 3, 2, 4]]);
  assert.deepEqual(arr(x.flip([1]).select(0, 0)), [3, 2, 1, 0]);
  const pd = Tensor.from([1, 2]).pad([1, 2], -1);
  assert.deepEqual(arr(pd), [-1, 1, 2, -1, -1]);
  const oh = Tensor.from([2, 0], [2], 'int64').oneHot(3);
  assert.deepEqual([oh.dtype, arr(oh)], ['int64', [0, 0, 1, 1, 0, 0]]);
}));

test('elementwise arithmetic with broadcasting and PyTorch type promotion', () => scope(() => {
  const col = Tensor.from([10, 20], [2, 1]);
  const row = Tensor.from([1, 2, 3]);
  assert.deepEqual(arr(col.add(row)), [11, 12, 13, 21, 22, 23]);
  assert.deepEqual(col.add(row).shape, [2, 3]);
  assert.deepEqual(arr(col.sub(row)), [9, 8, 7, 19, 18, 17]);
  assert.deepEqual(arr(row.rsub(1)), [0, -1, -2]);
  assert.deepEqual(arr(row.mul(row)), [1, 4, 9]);
  assert.deepEqual(arr(row.div(2)), [0.5, 1, 1.5]);
  assert.deepEqual(arr(row.rdiv(6)), [6, 3, 2]);
  assert.deepEqual(arr(row.pow(2)), [1, 4, 9]);
  assert.deepEqual(arr(Tensor.from([2, 3]).pow(Tensor.from([3, 2]))), [8, 9]);
  assert.deepEqual(arr(row.neg()), [-1, -2, -3]);
  // A JS number behaves like a Python scalar: it does not widen a tensor's dtype category.
  assert.equal(Tensor.from([1, 2], [2], 'int64').add(0.5).dtype, 'float32');
  assert.equal(Tensor.from([1], [1], 'int32').add(2).dtype, 'int32');
  assert.equal(Tensor.from([1], [1], 'int32').mul(Tensor.from([2], [1], 'int64')).dtype, 'int64');
  assert.equal(Tensor.from([1], [1]).add(Tensor.from([1], [1], 'float64')).dtype, 'float64');
  assert.deepEqual(arr(Tensor.from([7, -7], [2], 'int64').div(2)), [3.5, -3.5], 'div is true division');
}));

test('rounding, clamp, exp/log family, abs, sign, sqrt, where, maximum/minimum', () => scope(() => {
  // Half to even, as torch.round.
  assert.deepEqual(arr(Tensor.from([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6]).round()), [0, 2, 2, -0, -2, 2, -3]);
  assert.deepEqual(arr(Tensor.from([1.5, -1.5]).floor()), [1, -2]);
  assert.deepEqual(arr(Tensor.from([1.5, -1.5]).ceil()), [2, -1]);
  assert.deepEqual(arr(Tensor.from([1.5, -1.5]).trunc()), [1, -1]);
  const x = Tensor.from([-3, -1, 0, 2, 5]);
  assert.deepEqual(arr(x.clamp(-1, 2)), [-1, -1, 0, 2, 2]);
  assert.deepEqual(arr(x.clamp(null, 0)), [-3, -1, 0, 0, 0]);
  assert.deepEqual(arr(x.clamp(0)), [0, 0, 0, 2, 5]);
  const lo = Tensor.from([-4, 0, 1, 1, 1]);
  const hi = Tensor.from([-2, 0, 3, 3, 4]);
  assert.deepEqual(arr(x.clamp(lo, hi)), [-3, 0, 1, 2, 4]);
  assert.deepEqual(arr(x.clamp(lo, 1)), [-3, 0, 1, 1, 1], 'tensor and number bounds mix');
  assert.deepEqual(arr(Tensor.from([-1, 3]).clamp(Tensor.from([0]))), [0, 3], 'bounds broadcast');
  assert.deepEqual(arr(x.clone().clamp_(-1, 1)), [-1, -1, 0, 1, 1]);

  assert.deepEqual(arr(Tensor.from([0, 1, 3, -1]).exp2()), [1, 2, 8, 0.5]);
  assert.deepEqual(arr(Tensor.from([1, 2, 8, 0.5]).log2()), [0, 1, 3, -1]);
  const e = Tensor.from([0, 1, 2], [3], 'float64').exp();
  assert.deepEqual(arr(e).map((v, i) => Math.abs(v - Math.exp(i)) < 1e-14), [true, true, true]);
  assert.deepEqual(arr(e.log()).map((v, i) => Math.abs(v - i) < 1e-14), [true, true, true]);
  assert.deepEqual(arr(Tensor.from([-2, 0, 3]).abs()), [2, 0, 3]);
  assert.deepEqual(arr(Tensor.from([-2, 0, 3]).sign()), [-1, 0, 1]);
  assert.deepEqual(arr(Tensor.from([4, 9, 0.25]).sqrt()), [2, 3, 0.5]);
  assert.deepEqual(arr(Tensor.from([4, 0.25]).rsqrt()), [0.5, 2]);
  assert.deepEqual(arr(Tensor.from([4, 0.25]).reciprocal()), [0.25, 4]);
  assert.deepEqual(arr(Tensor.from([-3, 3]).square()), [9, 9]);
  assert.deepEqual(arr(Tensor.from([0]).sigmoid()), [0.5]);
  assert.deepEqual(arr(Tensor.from([0]).tanh()), [0]);
  assert.deepEqual(arr(Tensor.from([-1, 0, 2]).relu()), [0, 0, 2]);
  assert.deepEqual(arr(Tensor.from([NaN, 1, Infinity]).isnan()), [1, 0, 0]);
  assert.deepEqual(arr(Tensor.from([NaN, 1, Infinity]).isfinite()), [0, 1, 0]);

  const c = Tensor.from([1, 0, 1], [3], 'bool');
  assert.deepEqual(arr(Tensor.where(c, Tensor.from([1, 2, 3]), Tensor.from([-1, -2, -3]))), [1, -2, 3]);
  assert.deepEqual(arr(Tensor.where(c, Tensor.from([1, 2, 3]), 0)), [1, 0, 3]);
  assert.deepEqual(arr(Tensor.where(c, 9, Tensor.from([-1, -2, -3]))), [9, -2, 9]);
  assert.deepEqual(arr(Tensor.from([1, 5]).maximum(Tensor.from([3, 2]))), [3, 5]);
  assert.deepEqual(arr(Tensor.from([1, 5]).minimum(2)), [1, 2]);
}));

test('comparisons and logical ops give bool tensors', () => scope(() => {
  const a = Tensor.from([1, 2, 3]);
  const b = Tensor.from([3, 2, 1]);
  const cases: [Tensor, number[]][] = [
    [a.eq(b), [0, 1, 0]], [a.ne(b), [1, 0, 1]], [a.lt(b), [1, 0, 0]],
    [a.le(b), [1, 1, 0]], [a.gt(b), [0, 0, 1]], [a.ge(2), [0, 1, 1]],
  ];
  for (const [t, want] of cases) {
    assert.equal(t.dtype, 'bool');
    assert.deepEqual(arr(t), want);
  }
  assert.deepEqual(arr(a.gt(1).logicalAnd(a.lt(3))), [0, 1, 0]);
  assert.deepEqual(arr(a.lt(2).logicalOr(a.gt(2))), [1, 0, 1]);
  assert.deepEqual(arr(a.eq(2).logicalNot()), [1, 0, 1]);
  assert.equal(a.equal(a.clone()), true);
  assert.equal(a.equal(b), false);
  assert.equal(a.allclose(a.add(1e-7)), true);
  assert.equal(a.allclose(a.add(1e-2)), false);
}));

test('reductions over all and over dims, keepdim', () => scope(() => {
  const x = m23();
  assert.equal(x.sum().item(), 21);
  assert.deepEqual(arr(x.sum(0)), [5, 7, 9]);
  assert.deepEqual(x.sum(1, true).shape, [2, 1]);
  assert.deepEqual(arr(x.sum([0, 1])), [21]);
  assert.equal(x.mean().item(), 3.5);
  assert.deepEqual(arr(x.mean(1)), [2, 5]);
  assert.deepEqual(arr(x.amax(0)), [4, 5, 6]);
  assert.deepEqual(arr(x.amin(1)), [1, 4]);
  assert.equal(x.amax().item(), 6);
  assert.deepEqual(x.amin(1, true).shape, [2, 1]);
  assert.equal(x.var().item(), 3.5, 'unbiased: 17.5 / 5');
  assert.deepEqual(arr(x.var(1)), [1, 1]);
  const vb = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], 'float64').var(1, false);
  assert.deepEqual(arr(vb), [2 / 3, 2 / 3]);
  assert.deepEqual(arr(Tensor.from([1, 3, 5, 7], [2, 2], 'float64').std(0, true, true)), [Math.SQRT2 * 2, Math.SQRT2 * 2]);
  const y = Tensor.from([3, 9, 1, 7, 2, 8], [2, 3]);
  assert.equal(y.argmax().item(), 1);
  assert.deepEqual(arr(y.argmax(1)), [1, 2]);
  assert.deepEqual(arr(y.argmin(0)), [0, 1, 0]);
  assert.deepEqual(y.argmax(1, true).shape, [2, 1]);
  assert.equal(y.argmax(1).dtype, 'int64');
  assert.deepEqual(arr(y.topkIndices(2, 1)), [1, 0, 2, 0]);
}));

test('matmul, linear and in-place updates', () => scope(() => {
  const a = Tensor.from([1, 2, 3, 4], [2, 2]);
  const b = Tensor.from([5, 6, 7, 8], [2, 2]);
  assert.deepEqual(arr(a.matmul(b)), [19, 22, 43, 50]);
  assert.deepEqual(arr(a.matmul(Tensor.from([1, 1]))), [3, 7]);
  assert.deepEqual(Tensor.zeros([5, 2, 3]).matmul(Tensor.zeros([3, 4])).shape, [5, 2, 4]);

  const t = Tensor.from([1, 2, 3, 4]);
  assert.deepEqual(arr(t.add_(Tensor.from([1, 1, 1, 1]), 2)), [3, 4, 5, 6]);
  assert.deepEqual(arr(t.add_(1)), [4, 5, 6, 7]);
  assert.deepEqual(arr(t.mul_(2)), [8, 10, 12, 14]);
  assert.deepEqual(arr(t.addcmul_(Tensor.from([1, 2, 3, 4]), Tensor.from([2, 2, 2, 2]), 0.5)), [9, 12, 15, 18]);
  assert.deepEqual(arr(t.addcdiv_(Tensor.from([2, 2, 2, 2]), Tensor.from([1, 2, 4, 8]), 2)), [13, 14, 16, 18.5]);
  assert.deepEqual(arr(t.lerp_(Tensor.zeros([4]), 0.5)), [6.5, 7, 8, 9.25]);
  assert.deepEqual(arr(t.fill_(3)), [3, 3, 3, 3]);
  assert.deepEqual(arr(t.copy_(Tensor.from([4, 3, 2, 1], [4], 'int64'))), [4, 3, 2, 1]);
  assert.deepEqual(arr(t.zero_()), [0, 0, 0, 0]);
}));

test('threads: get and set', () => {
  const before = getNumThreads();
  try {
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(2);
    assert.equal(getNumThreads(), 2);
  } finally {
    setNumThreads(before);
  }
});
