// The file format side: the vendored schema's descriptor is current, low-bit codes pack first
// element in the lowest bits (onnx.proto), and `gdnsq export` writes a file that says what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { packCodes, unpackCodes, readOnnx } from '../../src/export/onnx';
import { saveModelFile } from '../../src/train';
import { runExport } from '../../src/cli/export';
import { makeModel, NORM } from './onnx-fixtures';

const root = path.join(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-cli-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('onnx-descriptor.ts is generated from the vendored onnx.proto', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'onnx-descriptor.js'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('codes pack first element in the lowest bits and unpack to themselves', () => {
  assert.deepEqual(Array.from(packCodes([1, 2, 3, 0, 3], 2)), [0b00111001, 0b11]);
  assert.deepEqual(Array.from(packCodes([0xa, 0x5, 0xf], 4)), [0x5a, 0x0f]);
  for (const bits of [2, 4, 8]) {
    const codes = Array.from({ length: 37 }, (_, i) => (i * 5 + 3) % 2 ** bits);
    assert.deepEqual(unpackCodes(packCodes(codes, bits), bits, codes.length), codes);
  }
  assert.throws(() => packCodes([4], 2), /^Error: packCodes: code 4 at index 0 is not in 0\.\.3$/);
});

test('models/resnet20-fashion-mnist-w2a2.onnx is the export of the shipped checkpoint', async () => {
  const out = path.join(dir, 'w2a2.onnx');
  const log = console.log;
  console.log = () => {};
  try {
    await runExport({ checkpoint: path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.safetensors'), format: 'onnx', out, batchSize: 500 });
  } finally {
    console.log = log;
  }
  const shipped = fs.readFileSync(path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.onnx'));
  assert.ok(shipped.equals(fs.readFileSync(out)), 'stale: rerun gdnsq export --checkpoint models/resnet20-fashion-mnist-w2a2.safetensors --out models/resnet20-fashion-mnist-w2a2.onnx');
});

test('gdnsq export refuses a format it does not write, in one line', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'gdnsq'), 'export', '--checkpoint', 'x.safetensors', '--out', 'x', '--format', 'tflite'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: option '--format <name>' argument 'tflite' is invalid\. --format must be one of onnx, packed, got 'tflite'\n/);
});

test('gdnsq export --format packed: the shipped W2A2 convs take 1/16 of their FP32 bytes plus 8 bytes per channel', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-xpacked-'));
  try {
    const out = path.join(dir, 'w2a2.packed.safetensors');
    const log = console.log;
    console.log = () => {};
    const r = await runExport({ checkpoint: path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.safetensors'), format: 'packed', out, batchSize: 500, json: true })
      .finally(() => { console.log = log; });
    assert.equal(r.quantized_layers, 18);
    // 2-bit codes: 1/16 of FP32; per output channel an fp32 step and lower bound (6×16 + 6×32 + 6×64 = 672 channels).
    assert.equal(r.quantized_packed_bytes, (r.quantized_fp32_bytes as number) / 16 + 8 * 672);
    assert.equal(fs.statSync(out).size, r.bytes);
    await assert.rejects(runExport({ checkpoint: out, format: 'packed', out: path.join(dir, 'x'), batchSize: 500, verify: true }), /--opset and --verify apply to --format onnx/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('gdnsq export writes an ONNX file with the portable model card, no machine paths', async () => {
  const model = makeModel('smallcnn', { wStart: 2, aStart: 2 });
  const card = { model: 'smallcnn', args: { ...model.config }, dataset: 'fashion-mnist', normalize: NORM, quant: { options: { wBits: 2, aBits: 2 } }, teacher: '/abs/path/teacher.safetensors', run: { out: '/abs/run' } };
  const ckpt = path.join(dir, 'q.safetensors');
  saveModelFile(ckpt, model.stateDict(), card);
  const out = path.join(dir, 'q.onnx');
  const log = console.log;
  const lines: string[] = [];
  console.log = (s: string) => { lines.push(s); };
  try {
    const r = await runExport({ checkpoint: ckpt, format: 'onnx', out, batchSize: 500 });
    assert.equal(r.opset, 25);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /q\.onnx: \d+\.\d KiB, opset 25, 4 quantized tensors \(integer types: uint2\)$/);
  const f = readOnnx(out);
  assert.deepEqual(f.card, { model: 'smallcnn', args: { ...model.config }, dataset: 'fashion-mnist', normalize: NORM, quant: { options: { wBits: 2, aBits: 2 } } });
  assert.ok(!fs.readFileSync(out).includes('/abs/'));
});
