import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed, liveTensors } from '../../src/engine';
import { Module, Linear, ReLU, Sequential, BatchNorm2d, Identity } from '../../src/nn';

// A tree shaped to exercise PyTorch's ordering rule: a module's own tensors come before its
// children's, whatever order they were registered in.
class Toy extends Module {
  declare a: Tensor;
  declare b: Tensor;
  declare seq: Sequential;
  constructor() {
    super();
    this.registerParameter('a', Tensor.from([1, 2]));
    this.registerModule('seq', new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 2)));
    this.registerParameter('b', Tensor.from([3]));
    this.registerBuffer('steps', Tensor.zeros([1], 'int64'));
    this.registerBuffer('scratch', Tensor.zeros([2]), false);
  }
  override forward(x: Tensor): Tensor {
    return this.seq.call(x.mul(this.a)).add(this.b);
  }
}

const values = (t: Tensor): number[] => t.toArray();

test('namedParameters: own tensors first, then children depth-first, in registration order', () => {
  const m = new Toy();
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['a', 'b', 'seq.0.weight', 'seq.0.bias', 'seq.2.weight', 'seq.2.bias']);
  assert.deepEqual(m.namedBuffers().map(([n]) => n), ['steps', 'scratch']);
  assert.deepEqual(m.namedModules().map(([n]) => n), ['', 'seq', 'seq.0', 'seq.1', 'seq.2']);
  assert.deepEqual(m.namedChildren().map(([n]) => n), ['seq']);
  assert.equal(m.numParameters(), 2 + 1 + 6 + 3 + 6 + 2);
  assert.ok(m.parameters().every((p) => p.requiresGrad && p.isLeaf && p.dtype === 'float32'));
  m.dispose();
});

test('stateDict: parameters then persistent buffers per module, live tensors', () => {
  const m = new Toy();
  const sd = m.stateDict();
  assert.deepEqual(Object.keys(sd), ['a', 'b', 'steps', 'seq.0.weight', 'seq.0.bias', 'seq.2.weight', 'seq.2.bias']);
  assert.equal(sd.a, m.a);
  assert.equal(sd['seq.0.weight'], (m.getSubmodule('seq.0') as Linear).weight);
  m.dispose();
});

test('a shared tensor is one parameter but appears under both names in stateDict', () => {
  const s = new Sequential(new Linear(2, 2, { bias: false }), new Linear(2, 2, { bias: false }));
  const first = s.at(0) as Linear, second = s.at(1) as Linear;
  second.weight = first.weight;
  assert.equal(s.parameters().length, 1);
  assert.equal(s.numParameters(), 4);
  assert.deepEqual(Object.keys(s.stateDict()), ['0.weight', '1.weight']);
  s.dispose();
});

test('assigning a parameter disposes the old tensor and registers the new one', () => {
  const lin = new Linear(2, 3);
  const old = lin.weight;
  const fresh = scope(() => Tensor.ones([3, 2]));
  lin.weight = fresh;
  assert.ok(old.isDisposed);
  assert.equal(lin.weight, fresh);
  assert.ok(fresh.requiresGrad);
  assert.equal(lin.parameters()[0], fresh);
  // the kept parameter survives the scope it was created in
  scope(() => { lin.weight = Tensor.zeros([3, 2]); });
  assert.deepEqual(values(lin.weight), [0, 0, 0, 0, 0, 0]);
  lin.bias = null;
  assert.deepEqual(lin.namedParameters().map(([n]) => n), ['weight']);
  lin.dispose();
});

test('registration errors name the problem', () => {
  class Bare extends Module { override forward(x: Tensor): Tensor { return x; } }
  const m = new Bare();
  const int = Tensor.zeros([2], 'int64');
  assert.throws(() => m.registerParameter('w', int), { message: "registerParameter: 'w' must be a floating tensor, got int64" });
  const leaf = Tensor.ones([2]).requiresGrad_();
  assert.throws(() => m.registerParameter('w', leaf.mul(2)), { message: "registerParameter: 'w' must be a leaf tensor (detach() it first)" });
  assert.throws(() => m.registerParameter('a.b', Tensor.ones([1])), { message: "registerParameter: invalid name 'a.b' (a non-empty string without '.')" });
  assert.throws(() => m.registerBuffer('training', Tensor.ones([1])), { message: "registerBuffer: 'training' is already an attribute of Bare" });
  assert.throws(() => m.registerModule('forward', new Identity()), { message: "registerModule: 'forward' is already an attribute of Bare" });
  m.registerBuffer('stat', Tensor.ones([1]));
  assert.throws(() => m.registerParameter('stat', Tensor.ones([1])), { message: "registerParameter: 'stat' is already a buffer of Bare" });
  // a failed registration leaves the name free
  m.registerParameter('w', Tensor.ones([2]));
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['w']);
  const inner = new Sequential(new Identity());
  const outer = new Sequential(inner);
  assert.throws(() => inner.registerModule('loop', outer), { message: "registerModule: 'loop' would make Sequential its own descendant" });
  m.dispose();
  outer.dispose();
});

test('loadStateDict round trip copies values into the existing tensors', () => {
  manualSeed(1);
  const src = new Toy();
  manualSeed(2);
  const dst = new Toy();
  const before = dst.stateDict();
  assert.ok(!values(before['seq.0.weight']).every((v, i) => v === values(src.stateDict()['seq.0.weight'])[i]));
  noLeak(() => {
    const r = dst.loadStateDict(src.stateDict());
    assert.deepEqual(r, { missing: [], unexpected: [], mismatched: [] });
  });
  const after = dst.stateDict();
  for (const [k, t] of Object.entries(src.stateDict())) {
    assert.equal(after[k], before[k], `${k} is still the same tensor object`);
    assert.ok(after[k] !== t);
    assert.deepEqual(values(after[k]), values(t), k);
  }
  assert.ok(dst.parameters().every((p) => p.requiresGrad && p.isLeaf));
  // values were copied, not aliased
  (src.getSubmodule('seq.0') as Linear).weight = Tensor.zeros([3, 2]);
  assert.notDeepEqual(values((dst.getSubmodule('seq.0') as Linear).weight), [0, 0, 0, 0, 0, 0]);
  src.dispose();
  dst.dispose();
});

test('loadStateDict converts dtypes (float64 source, int64 buffer)', () => {
  const m = new Toy();
  const sd = scope(() => {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) out[k] = Tensor.full(t.shape, 0.25, 'float64');
    out.steps = Tensor.full([1], 7, 'float64');
    return out;
  });
  m.loadStateDict(sd);
  assert.equal(m.a.dtype, 'float32');
  assert.deepEqual(values(m.a), [0.25, 0.25]);
  assert.equal((m as unknown as { steps: Tensor }).steps.dtype, 'int64');
  assert.deepEqual(values((m as unknown as { steps: Tensor }).steps), [7]);
  for (const t of Object.values(sd)) t.dispose();
  m.dispose();
});

test('loadStateDict reports missing, unexpected and mismatched keys; strict throws one line and copies nothing', () => {
  const m = new Toy();
  const sd = scope(() => {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) out[k] = Tensor.full(t.shape, 5);
    delete out.b;
    delete out['seq.2.bias'];
    out['seq.0.weight'] = Tensor.full([3, 4], 5);
    out['head.weight'] = Tensor.ones([1]);
    return out;
  });
  const aBefore = values(m.a);
  const error = 'loadStateDict: Toy: 2 missing keys (b, seq.2.bias); 1 unexpected key (head.weight); ' +
    '1 shape mismatch (seq.0.weight: expected [3, 2], got [3, 4])';
  assert.throws(() => m.loadStateDict(sd), { message: error });
  assert.deepEqual(values(m.a), aBefore, 'strict failure leaves the module untouched');

  const r = m.loadStateDict(sd, { strict: false });
  assert.deepEqual(r, {
    missing: ['b', 'seq.2.bias'],
    unexpected: ['head.weight'],
    mismatched: [{ key: 'seq.0.weight', expected: [3, 2], got: [3, 4] }],
  });
  assert.deepEqual(values(m.a), [5, 5]);
  assert.deepEqual(values((m.getSubmodule('seq.2') as Linear).weight), [5, 5, 5, 5, 5, 5]);
  assert.notDeepEqual(values((m.getSubmodule('seq.0') as Linear).weight), [5, 5, 5, 5, 5, 5]);
  for (const t of Object.values(sd)) t.dispose();

  assert.throws(() => m.loadStateDict({}), {
    message: 'loadStateDict: Toy: 7 missing keys (a, b, steps, seq.0.weight, seq.0.bias, ... +2 more)',
  });
  m.dispose();
});

test('setSubmodule replaces a child in place: forward, parameters and names follow', () => {
  manualSeed(3);
  const m = new Toy();
  const x = Tensor.from([0.5, -1], [1, 2]).keep();
  const replacement = new Linear(2, 3);
  const old = m.setSubmodule('seq.0', replacement) as Linear;
  assert.ok(!old.weight.isDisposed, 'the old child is handed back, not disposed');
  assert.equal(m.getSubmodule('seq.0'), replacement);
  assert.equal(m.seq.at(0), replacement);
  assert.deepEqual(m.namedChildren().map(([n]) => n), ['seq']);
  assert.deepEqual(m.seq.namedChildren().map(([n]) => n), ['0', '1', '2'], 'position kept');
  const params = m.parameters();
  assert.ok(params.includes(replacement.weight) && params.includes(replacement.bias!));
  assert.ok(!params.includes(old.weight));
  assert.equal(m.stateDict()['seq.0.weight'], replacement.weight);
  scope(() => {
    const expected = m.seq.at(2).call(replacement.call(x.mul(m.a)).relu()).add(m.b);
    assert.ok(m.forward(x).equal(expected));
  });
  // a top-level child, and errors
  const seq = m.seq;
  const id = new Identity();
  assert.equal(m.setSubmodule('seq', id), seq);
  assert.equal(m.getSubmodule('seq'), id);
  assert.equal(m.numParameters(), 3);
  assert.throws(() => m.setSubmodule('seq.0', new Identity()), { message: "setSubmodule: Identity has no submodule '0' to replace (path 'seq.0')" });
  assert.throws(() => m.getSubmodule('seq.x.y'), { message: "getSubmodule: Identity has no submodule 'x' (path 'seq.x.y')" });
  assert.throws(() => m.setSubmodule('head', new Identity()), { message: "setSubmodule: Toy has no submodule 'head' to replace (path 'head')" });
  assert.throws(() => m.setSubmodule('seq', m), { message: "setSubmodule: 'seq' would make Toy its own descendant" });
  x.dispose();
  old.dispose();
  seq.dispose();
  m.dispose();
});

test('train()/eval() set the flag on every module; apply visits children first', () => {
  const m = new Toy();
  assert.ok(m.modules().every((x) => x.training));
  assert.equal(m.eval(), m);
  assert.ok(m.modules().every((x) => !x.training));
  m.train();
  assert.ok(m.modules().every((x) => x.training));
  const order: string[] = [];
  m.apply((x) => order.push(x.constructor.name));
  assert.deepEqual(order, ['Linear', 'ReLU', 'Linear', 'Sequential', 'Toy']);
  m.dispose();
});

test('zeroGrad clears the gradients of every parameter', () => {
  const m = new Toy();
  scope(() => m.forward(Tensor.ones([1, 2])).sum().backward());
  assert.ok(m.parameters().every((p) => scope(() => p.grad !== null)));
  m.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
  m.dispose();
});

test('dispose frees every parameter and buffer; forward leaves no tensor behind', () => {
  const live = liveTensors();
  const m = new Toy();
  assert.equal(liveTensors() - live, 8);
  noLeak(() => { m.forward(Tensor.ones([4, 2])).sum().backward(); });
  m.zeroGrad();
  m.dispose();
  assert.equal(liveTensors(), live);
  assert.throws(() => scope(() => m.forward(Tensor.ones([1, 2]))), /tensor used after dispose\(\)/);
});

test('toString prints the tree like PyTorch', () => {
  const s = new Sequential(new Linear(4, 2, { bias: false }), new Sequential(new ReLU(), new BatchNorm2d(3)));
  assert.equal(s.toString(), [
    'Sequential(',
    '  (0): Linear(in_features=4, out_features=2, bias=False)',
    '  (1): Sequential(',
    '    (0): ReLU()',
    '    (1): BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
    '  )',
    ')',
  ].join('\n'));
  s.dispose();
});

function noLeak(fn: () => void): void {
  const live = liveTensors();
  scope(fn);
  assert.equal(liveTensors(), live, 'tensors left alive');
}
