// ONNX export round trip: small quantized and FP models exported, run in onnxruntime-node at its
// default session options, compared with gdnsq's eval-mode forward; the stored weight codes are
// the quantizers' own codes at their true width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope } from '../../src/engine';
import { Model } from '../../src/models';
import { quantizedLayers } from '../../src/quant';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportOnnx, writeOnnx, compareOnnx, decodeOnnx, gdnsqLogits, unpackCodes, CONTAINERS, Container, DataType } from '../../src/export/onnx';
import { NORM, SIZE, TestQuant, makeModel, ortLogits, pixels } from './onnx-fixtures';

const N = 48;

/**
 * Logits agree to 2e-5 (float32 summation order differs between libtorch and ORT) on all but
 * a few images: there an activation sat within that rounding of a step boundary and its code
 * flipped, which moves the logits by a step. Top-1 may then differ on such an image too.
 */
function compare(ours: Float32Array, theirs: Float32Array, what: string): void {
  assert.equal(theirs.length, ours.length);
  let off = 0, flips = 0;
  for (let i = 0; i < N; i++) {
    let d = 0, a = 0, b = 0;
    for (let j = 0; j < 10; j++) {
      d = Math.max(d, Math.abs(ours[i * 10 + j] - theirs[i * 10 + j]));
      if (ours[i * 10 + j] > ours[i * 10 + a]) a = j;
      if (theirs[i * 10 + j] > theirs[i * 10 + b]) b = j;
    }
    if (d > 2e-5) off++;
    if (a !== b) flips++;
  }
  assert.ok(off <= 2, `${what}: ${off}/${N} images with logits more than 2e-5 apart`);
  assert.ok(flips <= 1, `${what}: ${flips}/${N} images with another top-1`);
}

function checkCodes(model: Model, onnx: Uint8Array, container: Container): void {
  const inits = new Map(decodeOnnx(onnx).model.graph.initializer.map((t) => [t.name, t]));
  for (const [path, layer] of quantizedLayers(model)) {
    const t = inits.get(`${path}.weight_codes`);
    assert.ok(t, `${path}: no code initializer`);
    assert.equal(t.data_type, CONTAINERS[container].dataType, `${path}: data type`);
    assert.deepEqual(t.dims.map(Number), layer.weight.shape);
    const want = scope(() => layer.weight_quant.codes(layer.weight).toArray());
    assert.deepEqual(unpackCodes(t.raw_data, CONTAINERS[container].bits, want.length), want, `${path}: codes`);
    assert.equal(t.raw_data.length, Math.ceil((want.length * CONTAINERS[container].bits) / 8), `${path}: packed size`);
  }
}

interface Case { name: string; arch: 'smallcnn' | 'resnet8'; q?: TestQuant; opset?: number; want: { opset: number; w?: Container; a?: Container } }
const CASES: Case[] = [
  { name: 'smallcnn W2A2, every layer (signed input, fc)', arch: 'smallcnn', q: { wStart: 2, aStart: 2, quantizeFirst: true, quantizeLast: true }, want: { opset: 25, w: 'uint2', a: 'uint2' } },
  { name: 'resnet8 W4A4', arch: 'resnet8', q: { wStart: 4, aStart: 4 }, want: { opset: 21, w: 'uint4', a: 'uint4' } },
  { name: 'resnet8 W1A2, BatchNorm folded', arch: 'resnet8', q: { wStart: 1, aStart: 2, bn: 'fuse' }, want: { opset: 25, w: 'uint2', a: 'uint2' } },
  { name: 'resnet8 W3A3 (codes 0..7 in uint4)', arch: 'resnet8', q: { wStart: 3, aStart: 3 }, want: { opset: 21, w: 'uint4', a: 'uint4' } },
  { name: 'resnet8 W2A2 at opset 13 (uint8 fallback)', arch: 'resnet8', q: { wStart: 2, aStart: 2 }, opset: 13, want: { opset: 13, w: 'uint8', a: 'uint8' } },
  { name: 'resnet8 W2A2 at opset 21 (uint4 container)', arch: 'resnet8', q: { wStart: 2, aStart: 2, quantizeShortcuts: true }, opset: 21, want: { opset: 21, w: 'uint4', a: 'uint4' } },
  { name: 'smallcnn W4A4, quantized fc bias, per-tensor weights', arch: 'smallcnn', q: { wStart: 4, aStart: 4, quantizeLast: true, quantizeBias: true, perChannel: false }, want: { opset: 21, w: 'uint4', a: 'uint4' } },
  { name: 'resnet8 FP', arch: 'resnet8', want: { opset: 13 } },
];

for (const c of CASES) {
  test(`onnx export runs in onnxruntime-node and matches gdnsq: ${c.name}`, async () => {
    const model = makeModel(c.arch, c.q);
    const r = exportOnnx(model, { normalize: NORM, opset: c.opset });
    assert.equal(r.opset, c.want.opset);
    const quantized = r.quantizers.filter((q) => q.mode === 'quantized');
    const biases = quantizedLayers(model).filter(([, l]) => l.bias_quant).length;
    assert.equal(quantized.length, 2 * quantizedLayers(model).length + biases);
    for (const q of quantized) if (!q.name.endsWith('.bias_quant')) assert.equal(q.container, q.role === 'weight' ? c.want.w : c.want.a, q.name);
    if (c.want.w) checkCodes(model, r.bytes, c.want.w);
    const x = pixels(N, 7);
    const theirs = await ortLogits(r.bytes, x, [N, 1, SIZE, SIZE]);
    compare(gdnsqLogits(model, x, [N, 1, SIZE, SIZE], NORM), theirs, c.name);
  });
}

test('onnx export: the graph takes pixels and normalizes inside, and says what it is', () => {
  const model = makeModel('smallcnn', { wStart: 2, aStart: 2 });
  const f = decodeOnnx(exportOnnx(model, { normalize: NORM, card: { model: 'smallcnn' } }).bytes);
  const g = f.model.graph;
  assert.deepEqual(g.input.map((i) => i.name), ['pixels']);
  assert.deepEqual(g.output.map((i) => i.name), ['logits']);
  assert.deepEqual(g.node.slice(0, 2).map((n) => n.op_type), ['Sub', 'Div']);
  assert.equal(f.opset, 25);
  assert.equal(f.model.ir_version, 13);
  assert.deepEqual(f.card, { model: 'smallcnn' });
  // No node type outside the standard set this exporter documents.
  const ops = new Set(g.node.map((n) => n.op_type));
  for (const op of ops) assert.ok(['Sub', 'Div', 'Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm', 'QuantizeLinear', 'DequantizeLinear', 'Add', 'Min'].includes(op), op);
  assert.ok(g.initializer.some((t) => t.data_type === DataType.UINT2));
});

test('compareOnnx: ORT and gdnsq on a data set give the same top-1 and near logits', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-cmp-'));
  try {
    const model = makeModel('resnet8', { wStart: 2, aStart: 2 });
    const file = path.join(dir, 'm.onnx');
    writeOnnx(file, model, { normalize: NORM });
    const n = 40;
    const images = Uint8Array.from(pixels(n, 9), (v) => Math.floor(v * 256));
    const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
    const c = await compareOnnx(file, model, { images, labels, n, channels: 1, height: SIZE, width: SIZE, numClasses: 10 }, NORM, { batchSize: 16 });
    assert.equal(c.n, n);
    assert.equal(c.opset, 25);
    assert.equal(c.bytes, fs.statSync(file).size);
    assert.ok(c.samePredictions >= n - 1, `same predictions ${c.samePredictions}/${n}`);
    assert.ok(Math.abs(c.top1Onnx - c.top1Gdnsq) <= 1 / n);
    assert.ok(c.medianAbsLogitDiff < 2e-5 && c.imagesOver1e4 <= 2, JSON.stringify(c));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
