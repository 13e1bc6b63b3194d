import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Tensor, scope, manualSeed } from '../../src/engine';
import { createModel, Model } from '../../src/models';
import { quantize, calibrate, QuantizeOptions, QuantizedLayer } from '../../src/quant';
import { ModelCard, saveModelFile } from '../../src/train';
import { saveSafetensors } from '../../src/engine/safetensors';
import { savePacked } from '../../src/export/packed';
import { modelInfo, formatInfo } from '../../src/export/info';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-info-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const cardOf = (m: Model, quant?: QuantizeOptions): ModelCard => ({
  model: m.config.name, args: { ...m.config }, dataset: 'fashion-mnist', normalize: { mean: [0.5], std: [0.25] }, ...(quant ? { quant: { options: quant } } : {}),
});
// SmallCNN(1 → 5): conv1 16·1·9, bn1 2·16, conv2 32·16·9, bn2 2·32, conv3 32·32·9, bn3 2·32, fc 32·5 + 5.
const SMALL_PARAMS = 144 + 32 + 4608 + 64 + 9216 + 64 + 165;

test('FP checkpoint: parameters, bytes against FP32, no quantized layers', () => {
  manualSeed(0);
  const m = createModel('smallcnn', { inChannels: 1, numClasses: 5 });
  const f = path.join(dir, 'fp.safetensors');
  saveModelFile(f, m.stateDict(), cardOf(m));
  const i = modelInfo(f);
  assert.deepEqual({ format: i.format, quantized: i.quantized, model: i.model, params: i.params, layers: i.layers },
    { format: 'checkpoint', quantized: false, model: 'smallcnn', params: { total: SMALL_PARAMS, quantized: 0, fp: SMALL_PARAMS }, layers: [] });
  assert.deepEqual(i.bytes, { file: fs.statSync(f).size, fp32: 4 * SMALL_PARAMS, quantizedFp32: 0, quantizedPacked: 0 });
  assert.deepEqual(i.args, { name: 'smallcnn', inChannels: 1, numClasses: 5 });
  m.dispose();
});

test('quantized checkpoint and its packed file: per-layer bits (target, true), packed bytes', () => {
  manualSeed(1);
  const o: QuantizeOptions = { wBits: 2, aBits: 3 };
  const m = createModel('smallcnn', { inChannels: 1, numClasses: 5 });
  quantize(m, o);
  // Weights start at 2 bits (true width 2) and activations at 3 (grid capacity 3 bits).
  scope(() => { calibrate(m, [Tensor.randn([4, 1, 12, 12])], { startBits: 2 }); });
  (m.getSubmodule('conv3') as QuantizedLayer).act_quant.calibrateActivation(3);
  const ckpt = path.join(dir, 'q.safetensors'), packed = path.join(dir, 'q.packed.safetensors');
  saveModelFile(ckpt, m.stateDict(), cardOf(m, o));
  savePacked(m, cardOf(m, o), packed);
  const quantized = 4608 + 9216;
  for (const [f, format] of [[ckpt, 'checkpoint'], [packed, 'packed']] as const) {
    const i = modelInfo(f);
    assert.equal(i.format, format);
    assert.equal(i.quantized, true);
    assert.deepEqual(i.params, { total: SMALL_PARAMS, quantized, fp: SMALL_PARAMS - quantized });
    assert.deepEqual(i.bytes, { file: fs.statSync(f).size, fp32: 4 * SMALL_PARAMS, quantizedFp32: 4 * quantized, quantizedPacked: 4608 / 4 + 8 * 32 + 9216 / 4 + 8 * 32 });
    assert.deepEqual(i.layers, [
      { name: 'conv2', type: 'QConv2d', shape: [32, 16, 3, 3], params: 4608, weightBits: { target: 2, true: 2, min: 2 }, actBits: { target: 3, true: 2, pruned: false }, packedBytes: 1152 + 256 },
      { name: 'conv3', type: 'QConv2d', shape: [32, 32, 3, 3], params: 9216, weightBits: { target: 2, true: 2, min: 2 }, actBits: { target: 3, true: 3, pruned: false }, packedBytes: 2304 + 256 },
    ]);
    assert.deepEqual(i.card.quant, { options: o });
    const text = formatInfo(i);
    assert.match(text, /^  conv3  QConv2d  \[32, 32, 3, 3\]  W 2 → 2  A 3 → 3$/m);
    assert.match(text, new RegExp(`^parameters: 14,293 \\(13,824 in quantized weights, 469 FP\\)$`, 'm'));
  }
  assert.ok(fs.statSync(packed).size < fs.statSync(ckpt).size / 3, 'packed is smaller');
  m.dispose();
});

// ---- ONNX: a hand-encoded ModelProto (protobuf wire format, field numbers from onnx.proto) --
const varint = (v: number): number[] => { const o: number[] = []; do { o.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)); v = Math.floor(v / 128); } while (v > 0); return o; };
const fInt = (no: number, v: number): number[] => [...varint(no * 8), ...varint(v)];
const fBytes = (no: number, b: number[] | string): number[] => {
  const bytes = typeof b === 'string' ? [...Buffer.from(b, 'utf8')] : b;
  return [...varint(no * 8 + 2), ...varint(bytes.length), ...bytes];
};

function onnxModel(card: ModelCard | null): Buffer {
  const uint4 = [...fInt(1, 4), ...fInt(1, 3), ...fInt(2, 21), ...fBytes(8, 'w_codes'), ...fBytes(9, [0x21, 0x43, 0x65, 0x87, 0xa9, 0xcb])];
  const fp = [...fBytes(1, [...varint(4), ...varint(2)]), ...fInt(2, 1), ...fBytes(8, 'fc.weight'), ...fBytes(9, new Array(32).fill(0))];
  const node = (op: string): number[] => [...fBytes(1, 'x'), ...fBytes(2, 'y'), ...fBytes(4, op)];
  const graph = [...fBytes(1, node('DequantizeLinear')), ...fBytes(1, node('Conv')), ...fBytes(1, node('Conv')), ...fBytes(2, 'g'), ...fBytes(5, uint4), ...fBytes(5, fp)];
  return Buffer.from([
    ...fInt(1, 10), ...fBytes(2, 'gdnsq'), ...fBytes(3, '0.1.0'), ...fBytes(7, graph), ...fBytes(8, [...fBytes(1, ''), ...fInt(2, 21)]),
    ...(card ? fBytes(14, [...fBytes(1, 'gdnsq'), ...fBytes(2, JSON.stringify(card))]) : []),
  ]);
}

test('ONNX written by gdnsq: card from metadata_props, opsets, ops, initializers by element type', () => {
  const card: ModelCard = { model: 'smallcnn', args: { inChannels: 1, numClasses: 5 }, dataset: 'fashion-mnist', normalize: { mean: [0], std: [1] } };
  const f = path.join(dir, 'm.onnx');
  fs.writeFileSync(f, onnxModel(card));
  const i = modelInfo(f);
  assert.equal(i.format, 'onnx');
  assert.deepEqual(i.card, card);
  assert.deepEqual(i.onnx, {
    irVersion: 10, producer: 'gdnsq', producerVersion: '0.1.0', opsets: [{ domain: '', version: 21 }], ops: { DequantizeLinear: 1, Conv: 2 },
    initializers: [
      { name: 'w_codes', dtype: 'uint4', dims: [4, 3], elements: 12, bytes: 6 },
      { name: 'fc.weight', dtype: 'float32', dims: [4, 2], elements: 8, bytes: 32 },
    ],
  });
  assert.deepEqual(i.params, { total: 20, quantized: 12, fp: 8 });
  assert.deepEqual(i.bytes, { file: fs.statSync(f).size, fp32: 80, quantizedFp32: 48, quantizedPacked: 6 });
  assert.match(formatInfo(i), /^  initializers: 1 uint4 \(6 bytes\), 1 float32 \(32 bytes\)$/m);
});

test('files gdnsq did not write fail with one line', () => {
  const other = path.join(dir, 'other.onnx');
  fs.writeFileSync(other, onnxModel(null));
  assert.throws(() => modelInfo(other), /other\.onnx: ONNX file not written by gdnsq \(no 'gdnsq' entry in metadata_props; producer 'gdnsq'\)$/);
  const cut = path.join(dir, 'cut.onnx');
  fs.writeFileSync(cut, onnxModel(null).subarray(0, 40));
  assert.throws(() => modelInfo(cut), /cut\.onnx: not a valid ONNX file: field 7 runs past the end$/);
  const text = path.join(dir, 'notes.txt');
  fs.writeFileSync(text, 'hello');
  // Through the CLI: one line on stderr, exit code 1.
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'gdnsq'), 'info', text], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `gdnsq: ${text}: not a model file gdnsq knows (neither safetensors nor ONNX)\n`);
  const sd = path.join(dir, 'sd.safetensors');
  scope(() => { saveSafetensors(sd, { 'conv1.weight': Tensor.zeros([2]) }); });
  assert.throws(() => modelInfo(sd), /sd\.safetensors: safetensors without a gdnsq model card \(a PyTorch state dict\? bring it in with gdnsq import\)$/);
});

test('gdnsq info --json prints the same object as one line', () => {
  const f = path.join(dir, 'j.onnx');
  fs.writeFileSync(f, onnxModel({ model: 'resnet20', args: {}, dataset: 'fashion-mnist', normalize: { mean: [0], std: [1] } }));
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'gdnsq'), 'info', '--json', f], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n').length, 1);
  assert.deepEqual(JSON.parse(r.stdout), JSON.parse(JSON.stringify(modelInfo(f))));
});
