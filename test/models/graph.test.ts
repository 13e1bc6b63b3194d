// The graph model on hand-written descriptions: shape arithmetic on JS integers keeps the batch
// dynamic, layer nodes are real nn modules (what quantize() wraps), the JSON description alone
// rebuilds the model, and a bad description fails in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad, scope, manualSeed } from '../../src/engine';
import { Conv2d, Linear } from '../../src/nn';
import { GraphModel, GraphDesc, GRAPH_FORMAT, graphFpNodes } from '../../src/models';
import { IntVal, intBinary } from '../../src/models/graph-values';
import { runOp } from '../../src/models/graph-ops';
import { quantize } from '../../src/quant';

// x [N, 2, 4, 4] → conv → relu → view(size(0), -1) (a Shape/Gather/Unsqueeze/Concat chain) → fc.
function desc(): GraphDesc {
  return {
    format: GRAPH_FORMAT, opset: 13, input: { name: 'x', shape: [2, 4, 4] }, output: 'y',
    nodes: [
      { op: 'Conv', name: '/conv/Conv', inputs: ['x'], outputs: ['c'], attrs: {}, module: 'conv' },
      { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['r'], attrs: {} },
      { op: 'Shape', name: 'shape', inputs: ['r'], outputs: ['s'], attrs: {} },
      { op: 'Gather', name: 'gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
      { op: 'Unsqueeze', name: 'unsq', inputs: ['n', 'axes0'], outputs: ['n1'], attrs: {} },
      { op: 'Concat', name: 'cat', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
      { op: 'Reshape', name: 'reshape', inputs: ['r', 'target'], outputs: ['f'], attrs: {} },
      { op: 'Mul', name: 'scale', inputs: ['f', 'gain'], outputs: ['g'], attrs: {} },
      { op: 'Linear', name: '/head/fc/Gemm', inputs: ['g'], outputs: ['y'], attrs: {}, module: 'head.fc' },
    ],
    constants: {
      zero: { dtype: 'int64', dims: [], data: [0] }, axes0: { dtype: 'int64', dims: [1], data: [0] },
      minus1: { dtype: 'int64', dims: [1], data: [-1] }, gain: { dtype: 'float32', dims: [], data: [0.5] },
    },
    tensors: {},
    modules: {
      conv: { type: 'Conv2d', inChannels: 2, outChannels: 3, kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, bias: true },
      'head.fc': { type: 'Linear', inFeatures: 48, outFeatures: 5, bias: true, from: 'Gemm' },
    },
  };
}

test('a graph runs its nodes with PyTorch semantics, for any batch size', () => {
  manualSeed(0);
  const m = new GraphModel(desc(), { numClasses: 5 }).eval();
  assert.ok(m.getSubmodule('conv') instanceof Conv2d);
  assert.ok(m.getSubmodule('head.fc') instanceof Linear);
  scope(() => {
    for (const n of [1, 3]) {
      const x = Tensor.randn([n, 2, 4, 4]);
      const y = noGrad(() => m.forward(x));
      assert.deepEqual(y.shape, [n, 5]);
      const conv = m.getSubmodule('conv') as Conv2d, fc = m.getSubmodule('head.fc') as Linear;
      const ref = noGrad(() => fc.forward(conv.forward(x).relu().reshape([n, -1]).mul(0.5)));
      assert.ok(y.allclose(ref, 1e-6, 1e-6));
    }
  });
  // The float constant is a non-persistent buffer: not in the state dict.
  assert.deepEqual(Object.keys(m.stateDict()).sort(), ['conv.bias', 'conv.weight', 'head.fc.bias', 'head.fc.weight']);
  m.dispose();
});

test('the description survives JSON (the checkpoint card) and rebuilds the same model', () => {
  manualSeed(1);
  const a = new GraphModel(desc(), { numClasses: 5 }).eval();
  const b = new GraphModel(JSON.parse(JSON.stringify(a.desc)) as GraphDesc, { numClasses: 5 }).eval();
  scope(() => {
    b.loadStateDict(a.stateDict(), { strict: true });
    const x = Tensor.randn([2, 2, 4, 4]);
    assert.ok(noGrad(() => a.forward(x)).equal(noGrad(() => b.forward(x))));
  });
  a.dispose();
  b.dispose();
});

test('quantize() wraps the graph\'s layers like any model\'s: first conv and last linear FP by graph order', () => {
  const d = desc();
  d.nodes.splice(1, 0, { op: 'Conv', name: 'c2', inputs: ['c'], outputs: ['c2'], attrs: {}, module: 'conv2' });
  d.nodes[2] = { ...d.nodes[2], inputs: ['c2'] };
  d.modules = { conv: d.modules.conv, conv2: { ...(d.modules.conv as Extract<GraphDesc['modules'][string], { type: 'Conv2d' }>), inChannels: 3 }, 'head.fc': d.modules['head.fc'] };
  const m = new GraphModel(d, { numClasses: 5 });
  const r = quantize(m, { wBits: 4, aBits: 4 });
  assert.deepEqual(r.layers.map((l) => l.name), ['conv2']);
  assert.deepEqual(r.fp, [{ name: 'conv', reason: 'first conv' }, { name: 'head.fc', reason: 'last linear' }]);
  scope(() => assert.deepEqual(noGrad(() => m.eval().forward(Tensor.randn([2, 2, 4, 4]))).shape, [2, 5]));
  assert.deepEqual(graphFpNodes(m.desc), ['graph nodes kept FP (no weights; their outputs feed the next layer\'s input quantizer): 1 Relu, 1 Mul']);
  m.dispose();
});

test('shape arithmetic: integer ops follow ONNX (truncating Div, Gather, Slice, Where)', () => {
  const v = IntVal.vector([4, 17, 96]);
  assert.deepEqual(intBinary(v, IntVal.scalar(3), (x, y) => Math.trunc(x / y), 'div').data, [1, 5, 32]);
  const node = (op: string, attrs = {}) => ({ op, name: op, inputs: [], outputs: ['o'], attrs });
  assert.deepEqual((runOp(node('Gather', { axis: 0 }), [v, IntVal.scalar(-1)])[0] as IntVal).data, [96]);
  assert.deepEqual((runOp(node('Slice'), [v, IntVal.vector([1]), IntVal.vector([9e18])])[0] as IntVal).data, [17, 96]);
  const eq = runOp(node('Equal'), [v, IntVal.vector([4, 0, 96])])[0] as IntVal;
  assert.deepEqual((runOp(node('Where'), [eq, IntVal.scalar(1), v])[0] as IntVal).data, [1, 17, 1]);
  assert.throws(() => runOp(node('Resize'), []), /unsupported operator Resize/);
});

test('a description that reads an undefined value or lacks its parts fails in one line', () => {
  const d = desc();
  d.nodes[1] = { ...d.nodes[1], inputs: ['nowhere'] };
  const m = new GraphModel(d, { numClasses: 5 });
  scope(() => assert.throws(() => m.forward(Tensor.zeros([1, 2, 4, 4])), /node 'relu' reads 'nowhere', which no earlier node computes/));
  m.dispose();
  assert.throws(() => new GraphModel({ format: 'x' } as unknown as GraphDesc, { numClasses: 5 }), /not a gdnsq-graph\/1 description/);
  assert.throws(() => new GraphModel(desc(), {}), /numClasses must be a positive integer/);
});
