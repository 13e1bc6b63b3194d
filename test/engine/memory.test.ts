// Deterministic release: scopes free what they created except what they return or keep; a
// long training loop holds its memory flat; native memory is reported to V8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor, F, scope, keep, scopeDepth, noGrad, liveTensors, externalMemory, manualSeed, getNumThreads, setNumThreads,
} from '../../src/engine';
import { rss } from '../helpers/gradcheck';

test('a scope frees its tensors; nested scopes hand returned tensors outward', () => {
  const start = liveTensors();
  const out = scope(() => {
    const a = Tensor.ones([2]);
    const inner = scope(() => {
      const b = a.add(1);
      const c = b.mul(2);
      assert.equal(liveTensors(), start + 3);
      return c;
    });
    assert.equal(scopeDepth(), 1);
    assert.equal(liveTensors(), start + 2, 'b was freed, c moved to the outer scope');
    assert.deepEqual(inner.toArray(), [4, 4]);
    return inner.add(a);
  });
  assert.equal(scopeDepth(), 0);
  assert.equal(liveTensors(), start + 1);
  assert.deepEqual(out.toArray(), [5, 5]);
  out.dispose();
  assert.equal(liveTensors(), start);
});

test('an exception inside a scope frees everything it created and propagates', () => {
  const start = liveTensors();
  const outer = scope(() => {
    const kept = Tensor.zeros([1]);
    assert.throws(() => scope(() => {
      Tensor.ones([3]).add(1);
      scope(() => Tensor.ones([2]));
      throw new Error('inside');
    }), /^Error: inside$/);
    assert.equal(scopeDepth(), 1);
    assert.equal(liveTensors(), start + 1);
    return kept;
  });
  assert.equal(liveTensors(), start + 1);
  outer.dispose();
  // A libtorch error mid-scope behaves the same.
  assert.throws(() => scope(() => Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 4]))), /^Error: matmul: /);
  assert.equal(liveTensors(), start);
  assert.equal(scopeDepth(), 0);
});

test('returned arrays, plain objects and Maps keep their tensors; other tensors go', () => {
  const start = liveTensors();
  const r = scope(() => {
    const x = Tensor.ones([2]);
    x.mul(3);
    return { list: [x.add(1), x.add(2)], nested: { m: new Map([['k', x.sub(1)]]) }, n: 7, s: 'text' };
  });
  assert.equal(liveTensors(), start + 3, 'x and x*3 were freed');
  assert.deepEqual(r.list.map((t) => t.toArray()), [[2, 2], [3, 3]]);
  assert.deepEqual(r.nested.m.get('k')?.toArray(), [0, 0]);
  for (const t of [...r.list, r.nested.m.get('k') as Tensor]) t.dispose();
  assert.equal(liveTensors(), start);
});

test('keep() and .keep() survive every enclosing scope until disposed', () => {
  const start = liveTensors();
  const held: Tensor[] = [];
  scope(() => scope(() => {
    held.push(Tensor.ones([1]).keep(), keep(Tensor.zeros([1])));
    Tensor.ones([5]);
  }));
  assert.equal(liveTensors(), start + 2);
  assert.deepEqual(held.map((t) => t.item()), [1, 0]);
  for (const t of held) t.dispose();
  assert.equal(liveTensors(), start);
});

test('gradients, views and in-place results are handles released like any other', () => {
  const w = Tensor.ones([3], 'float64').requiresGrad_().keep();
  const start = liveTensors();
  scope(() => {
    w.mul(w).sum().backward();
    const g = w.grad as Tensor;
    assert.deepEqual(g.toArray(), [2, 2, 2]);
    w.reshape([3, 1]).transpose(0, 1);
  });
  assert.equal(liveTensors(), start, 'the .grad handle was released; the gradient itself stays on w');
  assert.deepEqual(scope(() => (w.grad as Tensor).toArray()), [2, 2, 2]);
  w.dispose();
});

test('V8 is told of the native memory of tensors left to dispose() or the GC, not of scoped ones', () => {
  const before = externalMemory();
  const t = Tensor.zeros([2_500_000]);
  assert.equal(externalMemory() - before, 10_000_000);
  // A view keeps the whole storage alive, so it is reported with it.
  const v = t.reshape([2500, 1000]);
  assert.equal(externalMemory() - before, 20_000_000);
  t.dispose();
  v.dispose();
  assert.equal(externalMemory(), before);

  const out = scope(() => {
    Tensor.zeros([1_000_000]);
    assert.equal(externalMemory(), before, 'a scope frees its tensors itself');
    const k = Tensor.zeros([1_000_000]).keep();
    assert.equal(externalMemory() - before, 4_000_000, 'kept: up to dispose() now');
    k.dispose();
    return scope(() => Tensor.zeros([500_000]));
  });
  assert.equal(externalMemory() - before, 2_000_000, 'returned by the outermost scope');
  out.dispose();
  assert.equal(externalMemory(), before);
});

test('2,200 MLP training steps in scopes: RSS flat, live tensors back to start', (t) => {
  // Tiny ops: a second intra-op thread only adds synchronisation (costly on a loaded machine).
  const threads = getNumThreads();
  setNumThreads(1);
  t.after(() => setNumThreads(threads));
  manualSeed(5);
  const start = liveTensors();
  const [params, x, y] = scope(() => [
    [Tensor.randn([32, 16]).mul(0.25), Tensor.zeros([32]), Tensor.randn([4, 32]).mul(0.18), Tensor.zeros([4])].map((p) => p.requiresGrad_().keep()),
    Tensor.randn([64, 16]).keep(),
    Tensor.randint(0, 4, [64]).keep(),
  ] as const);
  const step = (): number => scope(() => {
    const [w1, b1, w2, b2] = params;
    const loss = F.crossEntropy(F.linear(F.linear(x, w1, b1).relu(), w2, b2), y);
    loss.backward();
    noGrad(() => {
      for (const p of params) {
        p.add_(p.grad as Tensor, -0.05);
        p.zeroGrad();
      }
    });
    return loss.item();
  });
  const first = step();
  for (let i = 1; i < 200; i++) step();
  global.gc?.();
  const warm = rss();
  let last = first;
  for (let i = 0; i < 2000; i++) {
    last = step();
    if (liveTensors() !== start + 6) assert.fail(`step ${i} left ${liveTensors() - start - 6} tensors alive`);
  }
  global.gc?.();
  const grown = rss() - warm;
  assert.ok(grown < 30e6, `RSS grew by ${(grown / 1e6).toFixed(1)} MB over 2000 steps`);
  assert.ok(last < first, `the loss fell (${first} → ${last}), so the steps did real work`);
  assert.equal(liveTensors(), start + params.length + 2);
  for (const t of [...params, x, y]) t.dispose();
  assert.equal(liveTensors(), start);
});
