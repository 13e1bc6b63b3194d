import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Tensor, liveTensors, scope } from '../../src/engine';
import { Adam, AdamW, Optimizer, OptimizerStateDict, RAdam, SGD, GroupHyper } from '../../src/optim';
import { G, P0, assertClose, param, setGrad, trajectory } from './fixtures';

test('parameter groups keep their own hyper-parameters; lr is mutable', () => {
  const a = param([1, 2]);
  const b = param([1]);
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.01, momentum: 0.5 }], { lr: 0.1 });
  assert.deepEqual(opt.paramGroups.map((g) => [g.lr, g.momentum]), [[0.1, 0], [0.01, 0.5]]);
  setGrad(a, [1, -1]);
  setGrad(b, [2]);
  opt.step();
  assertClose(a.toArray(), [0.9, 2.1]); // 1 − 0.1·1, 2 + 0.1·1
  assertClose(b.toArray(), [0.98]); // 1 − 0.01·2
  opt.paramGroups[0].lr = 1;
  opt.step(); // same gradients: a moves by 1·g; b's buffer 0.5·2 + 2 = 3 → 0.98 − 0.03
  assertClose(a.toArray(), [-0.1, 3.1]);
  assertClose(b.toArray(), [0.95]);
  a.dispose();
  b.dispose();
});

test('groups own their hyper-parameters: changing one group\'s betas touches nothing else', () => {
  const a = param([1]);
  const b = param([1]);
  const first = new Adam([{ params: [a] }, { params: [b] }]);
  first.paramGroups[0].betas[0] = 0.5;
  assert.deepEqual(first.paramGroups[1].betas, [0.9, 0.999]);
  assert.deepEqual(new Adam([a]).paramGroups[0].betas, [0.9, 0.999]);
  a.dispose();
  b.dispose();
});

test('parameters without a gradient are skipped and get no state', () => {
  const a = param([1]);
  const b = param([5]);
  const opt = new Adam([a, b], { lr: 0.1 });
  setGrad(a, [1]);
  opt.step();
  assert.deepEqual(b.toArray(), [5]);
  assert.equal(b.grad, null);
  const { state, meta } = opt.stateDict();
  assert.deepEqual(Object.keys(state).sort(), ['state.0.exp_avg', 'state.0.exp_avg_sq']);
  assert.deepEqual(meta.state, { 0: { step: 1 } });
  opt.dispose();
  a.dispose();
  b.dispose();
});

test('zeroGrad sets every gradient to none', () => {
  const a = param([1]);
  const b = param([2]);
  const opt = new SGD([a, b], { lr: 0.1 });
  setGrad(a, [1]);
  setGrad(b, [1]);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.equal(b.grad, null);
  opt.step(); // nothing to do
  assert.deepEqual([a.toArray(), b.toArray()], [[1], [2]]);
  a.dispose();
  b.dispose();
});

test('state dict layout: PyTorch-style keys, hyper-parameters and steps in JSON meta', () => {
  const a = param([1, 2]);
  const b = param([3]);
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
  setGrad(a, [1, 1]);
  setGrad(b, [1]);
  opt.step();
  const { state, meta } = opt.stateDict();
  assert.deepEqual(Object.keys(state).sort(), ['state.0.momentum_buffer', 'state.1.momentum_buffer']);
  assert.deepEqual(state['state.1.momentum_buffer'].toArray(), [1]);
  assert.deepEqual(JSON.parse(JSON.stringify(meta)), {
    optimizer: 'SGD',
    groups: [
      { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, params: [0] },
      { lr: 0.5, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, params: [1] },
    ],
    state: { 0: { step: 1 }, 1: { step: 1 } },
  });
  opt.dispose();
  a.dispose();
  b.dispose();
});

/** A checkpoint as it comes back from disk: copied tensors, meta through JSON. */
function viaDisk(sd: OptimizerStateDict): OptimizerStateDict {
  const state: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(sd.state)) state[k] = t.clone().keep();
  return { state, meta: JSON.parse(JSON.stringify(sd.meta)) };
}

test('a restored optimizer continues exactly like an uninterrupted one', () => {
  type Make = (ps: Tensor[]) => Optimizer<GroupHyper>;
  const makers: Array<[string, Make]> = [
    ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam', (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.1 })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.01 })],
    // 3 + 5 steps: the restored step count must carry RAdam across rho_t = 5 at step 6.
    ['RAdam', (ps) => new RAdam(ps, { lr: 0.01 })],
  ];
  for (const [name, make] of makers) {
    const ref = param(P0, 'float32');
    const refOpt = make([ref]);
    const expected = trajectory(refOpt, ref, G);

    const p = param(P0, 'float32');
    const first = make([p]);
    trajectory(first, p, G.slice(0, 3));
    const saved = viaDisk(first.stateDict());
    first.dispose();
    const resumed = make([p]);
    resumed.paramGroups[0].lr = 123; // overwritten by the checkpoint's hyper-parameters
    resumed.loadStateDict(saved);
    for (const t of Object.values(saved.state)) t.dispose(); // the optimizer holds copies
    assert.deepEqual(trajectory(resumed, p, G.slice(3)), expected.slice(3), name);
    for (const o of [refOpt, resumed]) o.dispose();
    ref.dispose();
    p.dispose();
  }
});

test('loadStateDict refuses mismatches with one clear line and changes nothing', () => {
  const a = param([1, 2]);
  const opt = new Adam([a], { lr: 0.1 });
  setGrad(a, [1, 1]);
  opt.step();
  const good = opt.stateDict();
  const before = opt.stateDict().state['state.0.exp_avg'].toArray();
  const with_ = (state: Record<string, Tensor>, meta = good.meta): OptimizerStateDict => ({ state, meta });

  scope(() => {
    const wrongShape = { ...good.state, 'state.0.exp_avg': Tensor.zeros([3], 'float64') };
    assert.throws(() => opt.loadStateDict(with_(wrongShape)), {
      message: "Adam.loadStateDict: 'state.0.exp_avg' has shape [3], parameter 0 has shape [2]",
    });
  });
  assert.throws(() => opt.loadStateDict(with_(good.state, { ...good.meta, groups: [...good.meta.groups, { lr: 1, params: [1] }] })), {
    message: 'Adam.loadStateDict: the state dict has 2 parameter groups, the optimizer has 1',
  });
  assert.throws(() => new SGD([a], { lr: 0.1 }).loadStateDict(good), { message: 'SGD.loadStateDict: the state dict is for Adam, not SGD' });
  assert.throws(() => opt.loadStateDict(with_({ 'state.0.exp_avg': good.state['state.0.exp_avg'] })), {
    message: 'Adam.loadStateDict: parameter 0 has buffers [exp_avg]; Adam needs [exp_avg, exp_avg_sq]',
  });
  assert.throws(() => opt.loadStateDict(with_({ ...good.state, 'state.0.momentum': good.state['state.0.exp_avg'] })), {
    message: 'Adam.loadStateDict: parameter 0 has buffers [exp_avg, exp_avg_sq, momentum]; Adam needs [exp_avg, exp_avg_sq]',
  });
  assert.throws(() => opt.loadStateDict(with_({ ...good.state, 'state.7.exp_avg': good.state['state.0.exp_avg'] })), {
    message: "Adam.loadStateDict: 'state.7.exp_avg' belongs to parameter 7, which has no entry in meta.state",
  });
  assert.throws(() => opt.loadStateDict(with_({ ...good.state, exp_avg: good.state['state.0.exp_avg'] })), {
    message: "Adam.loadStateDict: unexpected key 'exp_avg' (expected state.<paramIndex>.<buffer>)",
  });
  assert.throws(() => opt.loadStateDict(with_(good.state, { ...good.meta, groups: [{ ...good.meta.groups[0], params: [0, 1] }] })), {
    message: 'Adam.loadStateDict: group 0 has 2 parameters in the state dict, 1 in the optimizer',
  });
  assert.throws(() => opt.loadStateDict(with_(good.state, { ...good.meta, groups: [{ ...good.meta.groups[0], lr: -1 }] })), {
    message: 'Adam.loadStateDict (group 0): lr must be ≥ 0, got -1',
  });
  assert.throws(() => opt.loadStateDict(with_(good.state, { ...good.meta, state: { 0: { step: 1.5 } } })), {
    message: 'Adam.loadStateDict: parameter 0 has step 1.5; expected a non-negative integer',
  });
  assert.deepEqual(opt.stateDict().state['state.0.exp_avg'].toArray(), before);
  assert.equal(opt.paramGroups[0].lr, 0.1);
  opt.dispose();
  a.dispose();
});

test('constructor errors: empty list, repeated parameter, non-leaf, integer tensor', () => {
  const a = param([1]);
  assert.throws(() => new Adam([]), { message: 'Adam: got an empty parameter list' });
  assert.throws(() => new Adam([{ params: [a] }, { params: [a] }]), { message: 'Adam: a parameter appears more than once (group 1)' });
  scope(() => {
    assert.throws(() => new Adam([a.mul(2)]), { message: 'Adam: parameter 0 is not a leaf tensor' });
    assert.throws(() => new Adam([Tensor.from([1], [1], 'int64')]), { message: 'Adam: parameter 0 is int64; only floating tensors can be optimized' });
  });
  a.dispose();
});

test('no tensor leaks: liveTensors() is stable over 500 steps, and dispose() frees the state', () => {
  const base = liveTensors();
  const w = param([0.5, -0.3, 0.8, 0.1, -0.9, 0.2], 'float32');
  const optimizers = [
    new SGD([w], { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
    new Adam([w], { lr: 1e-3, weightDecay: 1e-4 }),
    new AdamW([w], { lr: 1e-3 }),
    new RAdam([w], { lr: 1e-3, weightDecay: 1e-4 }), // both regimes within 500 steps
  ];
  const x = Tensor.from([1, 2, 3, 4, 5, 6]).keep();
  const train = () => {
    for (const opt of optimizers) opt.zeroGrad();
    scope(() => w.mul(x).square().sum().backward());
    for (const opt of optimizers) opt.step();
  };
  train();
  const afterFirst = liveTensors();
  assert.equal(afterFirst, base + 2 + 1 + 2 * 3, 'w, x, one momentum buffer, two moments per Adam-like optimizer');
  for (let i = 1; i < 500; i++) train();
  assert.equal(liveTensors(), afterFirst);
  assert.ok(w.toArray().every(Number.isFinite));
  for (const opt of optimizers) opt.dispose();
  assert.equal(liveTensors(), base + 2);
  w.dispose();
  x.dispose();
  assert.equal(liveTensors(), base);
});
