// The quantizer patterns on their own: one activation or weight quantizer as an ONNX graph, run
// in onnxruntime-node at default options, must give bit for bit what the quantizer gives in
// gdnsq (eval mode), rounding ties to even, for every container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, noGrad, scope } from '../../src/engine';
import { Quantizer } from '../../src/quant';
import { GraphBuilder, modelProto, tensorInfo, encodeModel, loadOrt } from '../../src/export/onnx';
import { emitActivation, emitWeight } from '../../src/export/onnx/emit-quant';

const set = (t: Tensor, v: number): void => noGrad(() => scope(() => { t.fill_(v); }));

async function runGraph(g: GraphBuilder, out: string, opset: number, x: Float32Array, yDims: number[] = [x.length]): Promise<Float32Array> {
  const last = g.nodes[g.nodes.length - 1];
  assert.equal(last.output[0], out);
  last.output[0] = 'y';
  const bytes = encodeModel(modelProto(g, { name: 'q', opset, inputs: [tensorInfo('x', [x.length])], outputs: [tensorInfo('y', yDims)] }));
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes);
  try {
    return (await session.run({ x: new ort.Tensor('float32', x, [x.length]) })).y.data as Float32Array;
  } finally {
    await session.release();
  }
}

function activation(o: { lower: number; signed: boolean; sigma: number; bits: number; pruned?: boolean }): Quantizer {
  const q = new Quantizer({ kind: 'activation', bits: 8 });
  set(q.lower, o.lower);
  set(q.signed, o.signed ? 1 : 0);
  set(q.log2_step, o.sigma);
  set(q.log2_range, o.sigma + o.bits);
  set(q.pruned, o.pruned ? 1 : 0);
  return q.train(false);
}

/** Random inputs around [lo, hi] and every exact half step (ties) in and around the grid. */
function inputs(q: Quantizer): Float32Array {
  manualSeed(3);
  const [lo, s] = [q.lower.item(), 2 ** q.log2_step.item()];
  const levels = 2 ** (q.log2_range.item() - q.log2_step.item());
  const ties = Array.from({ length: levels + 4 }, (_, k) => Math.fround(lo + (k - 2 + 0.5) * s));
  const rand = scope(() => Tensor.rand([500]).mul((levels + 2) * s).add(lo - s).toArray());
  return Float32Array.from([...ties, ...rand, lo, lo - 1e-3, lo + (levels - 1) * s, 1e6, -1e6]);
}

const ACTIVATIONS = [
  { what: 'unsigned, 2 bits, step 1/4 (exact ties)', q: { lower: 0, signed: false, sigma: -2, bits: 2 }, opsets: [25, 21, 13] },
  { what: 'unsigned, codes 0..2 (top code below the container max)', q: { lower: 0, signed: false, sigma: -2, bits: Math.log2(3) }, opsets: [25, 13] },
  { what: 'signed, 3 bits, step 0.37·2^-3', q: { lower: -0.3, signed: true, sigma: Math.log2(0.37) - 3, bits: 3 }, opsets: [25, 21, 13] },
  { what: 'signed, 4 bits, step 2^-4 (exact ties)', q: { lower: -0.5, signed: true, sigma: -4, bits: 4 }, opsets: [21, 13] },
  { what: 'unsigned, 1 bit', q: { lower: 0, signed: false, sigma: -1, bits: 1 }, opsets: [25] },
];

for (const a of ACTIVATIONS) {
  for (const opset of a.opsets) {
    test(`activation quantizer in ONNX is bit-identical to gdnsq: ${a.what}, opset ${opset}`, async () => {
      const q = activation(a.q);
      const x = inputs(q);
      const g = new GraphBuilder();
      g.reserve('x');
      const { value, info } = emitActivation(g, q, 'x', 'aq', opset);
      assert.equal(info.mode, 'quantized');
      const theirs = await runGraph(g, value, opset, x);
      const ours = noGrad(() => scope(() => q.forward(Tensor.from(x)).toArray()));
      assert.deepEqual(Array.from(theirs), ours);
      q.dispose();
    });
  }
}

test('a pruned activation quantizer exports as its constant', async () => {
  const q = activation({ lower: 0.7, signed: true, sigma: -3, bits: 2, pruned: true });
  const g = new GraphBuilder();
  g.reserve('x');
  const { value, info } = emitActivation(g, q, 'x', 'aq', 25);
  assert.equal(info.mode, 'constant');
  const y = await runGraph(g, value, 25, Float32Array.from([-3, 0, 5]));
  assert.deepEqual(Array.from(y), [0.7, 0.7, 0.7].map(Math.fround));
  q.dispose();
});

for (const [what, channels, bits, opset, container] of [
  ['per channel, 2 bits', 4, 2, 25, 'uint2'], ['per channel, 1 bit', 4, 1, 25, 'uint2'], ['per channel, 3 bits', 4, 3, 21, 'uint4'],
  ['per tensor, 4 bits', 1, 4, 21, 'uint4'], ['per channel, 2 bits in uint8', 4, 2, 13, 'uint8'], ['per channel, 6 bits', 4, 6, 25, 'uint8'],
] as const) {
  test(`weight quantizer in ONNX is bit-identical to gdnsq: ${what}, opset ${opset}`, async () => {
    manualSeed(5);
    const w = Tensor.randn([4, 3, 3, 3]);
    const q = new Quantizer({ kind: 'weight', bits, channels }).train(false);
    q.calibrateWeight(w, bits);
    const g = new GraphBuilder();
    g.reserve('x');
    const { value, info } = emitWeight(g, q, w, 'w', opset);
    assert.equal(info.container, container);
    // ŵ + 0 (the input) makes the weight the graph's output.
    const out = g.op('Add', [value, 'x'], 'w_out');
    const theirs = await runGraph(g, out, opset, Float32Array.from([0]), w.shape);
    const ours = noGrad(() => scope(() => q.forward(w).toArray()));
    assert.deepEqual(Array.from(theirs), ours);
    q.dispose();
    w.dispose();
  });
}
