// Bad calls become one-line JS errors naming the op ("op: first line of libtorch's message"),
// and the process survives them. A child process also throws argument garbage at every native
// export: a crash there shows up as a signal instead of taking the test runner down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Tensor, F, scope, setNumThreads, getNumThreads } from '../../src/engine';
import * as path from 'node:path';
import { native, NativeAddon } from '../../src/engine/native';

function expectError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected an Error matching ${pattern}`);
  assert.match(caught.message, pattern);
  assert.ok(!/[\r\n]/.test(caught.message), `not a single line: ${JSON.stringify(caught.message)}`);
  // The engine still works after the failure.
  assert.equal(scope(() => Tensor.from([1, 2]).add(1).sum().item()), 5);
}

const z = (shape: number[], dtype: 'float32' | 'float64' | 'int64' | 'int32' = 'float32'): Tensor => Tensor.zeros(shape, dtype);
const idx = (v: number[], shape = [v.length]): Tensor => Tensor.from(v, shape, 'int64');

test('shape mismatches: matmul, conv2d, broadcasting, cat, batchNorm, pooling', () => scope(() => {
  expectError(() => z([2, 3]).matmul(z([4, 5])), /^matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)$/);
  expectError(() => F.conv2d(z([1, 3, 5, 5]), z([4, 2, 3, 3])), /^conv2d: Given groups=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have 2 channels, but got 3 channels instead$/);
  expectError(() => F.conv2d(z([3, 5, 5]), z([4, 3, 3, 3])), /^conv2d: conv2d expects a 4-D input \[N, C, H, W\], got 3-D$/);
  expectError(() => F.conv2d(z([1, 3, 2, 2]), z([4, 3, 3, 3])), /^conv2d: Calculated padded input size per channel: \(2 x 2\)\. Kernel size: \(3 x 3\)/);
  expectError(() => z([2, 3]).add(z([4])), /^add: The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1$/);
  expectError(() => Tensor.cat([z([2, 3]), z([2, 4])], 0), /^cat: Sizes of tensors must match except in dimension 0/);
  expectError(() => F.batchNorm(z([2, 3]), { runningMean: z([4]), runningVar: Tensor.ones([4]), training: false }), /^batchNorm: running_mean should contain 3 elements not 4$/);
  expectError(() => F.maxPool2d(z([1, 1, 2, 2]), 3), /^maxPool2d: Given input size: \(1x2x2\)\. Calculated output size: \(1x0x0\)\. Output size is too small$/);
}));

test('dtype mismatches', () => scope(() => {
  expectError(() => z([2, 3]).matmul(z([3, 5], 'float64')), /^matmul: expected scalar type Float but found Double$/);
  expectError(() => F.conv2d(z([1, 3, 5, 5]), z([4, 3, 3, 3], 'float64')), /^conv2d: expected scalar type Float but found Double$/);
  expectError(() => z([2], 'int64').add_(z([2])), /^add_: result type Float can't be cast to the desired output type Long$/);
  expectError(() => z([3]).indexSelect(0, z([1])), /^indexSelect: index_select\(\): Expected dtype int32 or int64 for index$/);
  expectError(() => F.crossEntropy(z([2, 3]), Tensor.from([1, 0], [2], 'int32')), /^crossEntropy: expected scalar type Long but found Int$/);
  expectError(() => z([2], 'int64').requiresGrad_(), /^requiresGrad: only floating tensors can require gradients, got int64$/);
}));

test('indices out of range: select, indexSelect, gather, crossEntropy target, dims', () => scope(() => {
  expectError(() => z([3]).select(0, 5), /^select: select\(\): index 5 out of range for tensor of size \[3\] at dimension 0$/);
  expectError(() => z([3]).indexSelect(0, idx([7])), /^indexSelect: index out of range in self$/);
  expectError(() => z([2, 3]).gather(1, idx([5, 0], [2, 1])), /^gather: index 5 is out of bounds for dimension 1 with size 3$/);
  expectError(() => F.crossEntropy(z([2, 3]), idx([5, 0])), /^crossEntropy: Target 5 is out of bounds\.$/);
  expectError(() => z([2, 3]).transpose(0, 2), /^transpose: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)$/);
  expectError(() => F.softmax(z([2]), 3), /^softmax: Dimension out of range/);
}));

test('bad dims in permute, reshape, view', () => scope(() => {
  expectError(() => z([2, 3]).permute([0, 0]), /^permute: permute\(\): duplicate dims are not allowed\.$/);
  expectError(() => z([2, 3]).permute([0]), /^permute: .*number of dimensions in the tensor input does not match the length of the desired ordering/);
  expectError(() => z([2, 3]).reshape([4]), /^reshape: shape '\[4\]' is invalid for input of size 6$/);
  expectError(() => z([2, 3]).reshape([-1, -1]), /^reshape: only one dimension can be inferred$/);
  expectError(() => z([2, 3]).transpose(0, 1).view([6]), /^view: view size is not compatible with input tensor's size and stride/);
}));

test('use after dispose, at the Tensor level and at the handle level', () => scope(() => {
  const t = z([2]);
  const handle = t.handle;
  t.dispose();
  assert.equal(t.isDisposed, true);
  t.dispose();
  expectError(() => t.add(1), /^tensor used after dispose\(\)$/);
  expectError(() => native.add(handle, 1), /^add: argument 0 is a disposed tensor/);
  const kept = scope(() => z([1]).keep());
  const freed = scope(() => { const a = z([1]); return () => a.sum(); });
  expectError(freed, /^tensor used after dispose\(\)$/);
  kept.dispose();
}));

test('wrong argument types, unknown dtype and device, bad options', () => scope(() => {
  const bad = (v: unknown): never => v as never;
  expectError(() => z([2]).reshape(bad('a')), /^reshape: argument 1 must be an array of integers$/);
  expectError(() => z([2]).reshape([1.5, 2]), /^reshape: argument 1 must be an array of integers$/);
  expectError(() => z([2]).add(bad('a')), /^add: argument 1 must be a number$/);
  expectError(() => native.add({}, 1), /^add: argument 0 needs at least one tensor operand$/);
  expectError(() => native.mul(z([1]).handle, {}), /^mul: argument 1 must be a number$/);
  expectError(() => native.sum(42), /^sum: argument 0 must be a tensor$/);
  expectError(() => native.cat([z([1]).handle, 'x'], 0), /^cat: argument 0 must be a tensor$/);
  expectError(() => F.conv2d(z([1, 1, 3, 3]), z([1, 1, 1, 1]), null, { stride: 1.5 }), /^conv2d: argument 3 must be an array of integers$/);
  expectError(() => z([1]).narrow(0, 2 ** 70, 1), /^narrow: argument 2 must be an integer$/);
  expectError(() => z([1]).select(0, NaN), /^select: argument 2 must be an integer$/);
  expectError(() => Tensor.zeros([2], bad('float16')), /^unknown dtype 'float16' \(float32, float64, int64, int32, uint8, bool\)$/);
  expectError(() => native.zeros([2], 'half'), /^zeros: argument 1 is an unknown dtype 'half'/);
  expectError(() => z([2]).to('float32', 'tpu'), /^to: argument 2 is an unknown device 'tpu' \(cpu, cuda, cuda:N\)$/);
  expectError(() => F.crossEntropy(z([2, 3]), idx([1, 0]), bad('avg')), /^crossEntropy: argument 2 is an unknown reduction 'avg' \(mean, sum, none\)$/);
  expectError(() => F.dropout(z([2]), 2, true), /^dropout: argument 1 must be a probability in \[0, 1\]$/);
  expectError(() => Tensor.randint(5, 2, [3]), /^randint: random_ expects 'from' to be less than 'to', but got from=5 >= to=2$/);
  const threads = getNumThreads();
  expectError(() => setNumThreads(0), /^setNumThreads: argument 0 must be between 1 and 1024$/);
  assert.equal(getNumThreads(), threads);
  expectError(() => scope(() => Promise.resolve(1)), /^scope: fn returned a Promise; scopes are synchronous/);
}));

test('autograd and data misuse: backward on non-scalar or non-grad, item on many, fromBuffer size', () => scope(() => {
  expectError(() => z([3], 'float64').requiresGrad_().mul(2).backward(), /^backward: backward\(\) without a gradient needs a tensor with one element, got 3$/);
  expectError(() => z([1]).backward(), /^backward: element 0 of tensors does not require grad and does not have a grad_fn$/);
  expectError(() => z([2, 3]).item(), /^item: item\(\) needs a tensor with one element, got 6$/);
  expectError(() => Tensor.from(new Float32Array(3), [2, 2]), /^fromBuffer: argument 0 holds 12 bytes but shape \[2, 2\] of float32 needs 16$/);
  expectError(() => Tensor.from(new Float32Array(2), [2 ** 40, 2 ** 40, 2 ** 40]), /^fromBuffer: argument 0 holds 8 bytes but shape .* needs more$/);
  expectError(() => Tensor.from(new Float32Array(3), [-1, -3]), /^fromBuffer: argument 2 has a negative dimension$/);
  expectError(() => native.fromBuffer([1, 2], 'float32', [2]), /^fromBuffer: argument 0 must be a typed array$/);
  expectError(() => Tensor.zeros([2 ** 20, 2 ** 20, 2 ** 20]), /^zeros: .*can't allocate memory/);
}));

// ---- child process: every native export called with argument garbage -----------------------

// Runs in the child as source text (fuzz.toString()), so it may use only its argument and globals.
function fuzz(native: NativeAddon): void {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pool = (): unknown[] => {
    const f = native.zeros([2, 3], 'float32');
    const leafT = native.ones([2], 'float64');
    native.setRequiresGrad(leafT, true);
    const done = native.zeros([1], 'float32');
    native.dispose(done);
    return [
      f, native.ones([1, 2, 4, 4], 'float32'), native.arange(0, 3, 1, 'int64'), native.ones([2], 'bool'), leafT,
      native.mul(leafT, 2), native.scalarTensor(1, 'float64'), done,
      0, 1, 2, -1, 0.5, NaN, 1e300, 'float32', 'mean', 'x', '', true, false, null, undefined,
      [], [1], [2, 2], [1.5], [-1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], {}, [f, f], ['a'], new Float32Array(6), new Uint8Array(3), () => 1, 10n,
    ];
  };
  const skip = new Set(['setNumThreads']);
  let calls = 0;
  let errors = 0;
  const bad: string[] = [];
  for (const name of Object.keys(native)) {
    if (skip.has(name)) continue;
    for (let k = 0; k < 80; k++) {
      const p = pool();
      const args = Array.from({ length: rnd(9) }, () => p[rnd(p.length)]);
      calls++;
      try {
        native[name](...args);
      } catch (e) {
        errors++;
        const msg = e instanceof Error ? e.message : `non-Error ${String(e)}`;
        if (!(e instanceof Error) || !msg.startsWith(`${name}: `) || /[\r\n]/.test(msg)) bad.push(`${name}: ${JSON.stringify(msg)}`);
      }
    }
  }
  native.setGradEnabled(true);
  process.stdout.write(JSON.stringify({ calls, errors, bad: bad.slice(0, 20) }));
}

test('no native export crashes on argument garbage; every error names its op on one line', () => {
  const addon = path.join(__dirname, '..', '..', 'src', 'engine', 'native.js');
  const source = `(${fuzz.toString()})(require(${JSON.stringify(addon)}).native)`;
  const r = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GDNSQ_THREADS: '1' } });
  assert.equal(r.signal, null, `child killed by ${r.signal}: ${r.stderr.slice(-2000)}`);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const out = JSON.parse(r.stdout) as { calls: number; errors: number; bad: string[] };
  assert.deepEqual(out.bad, []);
  assert.ok(out.calls > 8_000 && out.errors > out.calls / 2, JSON.stringify(out));
});
