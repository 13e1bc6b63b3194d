// Bad input to the ONNX exporter, reader and verifier: one line naming the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Sequential, Conv2d, AdaptiveAvgPool2d, Flatten, Linear } from '../../src/nn';
import { Model, ModelConfig } from '../../src/models';
import { exportOnnx, readOnnx, decodeOnnx, compareOnnx, GraphBuilder, modelProto, tensorInfo, encodeModel, loadOrt } from '../../src/export/onnx';
import { makeModel } from './onnx-fixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const oneLine = (re: RegExp) => (e: unknown): boolean => {
  const msg = (e as Error).message;
  assert.ok(!msg.includes('\n'), `not one line: ${msg}`);
  assert.match(msg, re);
  return true;
};

test('truncated, garbage, empty and non-ONNX files are refused in one line', () => {
  const good = exportOnnx(makeModel('smallcnn', { wStart: 2, aStart: 2 }), {}).bytes;
  assert.equal(decodeOnnx(good).opset, 25);
  const files: Record<string, Uint8Array> = {
    'truncated.onnx': good.subarray(0, Math.floor(good.length / 2)),
    'garbage.onnx': Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) & 255),
    'empty.onnx': new Uint8Array(0),
    'text.onnx': new TextEncoder().encode('{"not": "an onnx model"}\n'),
  };
  for (const [name, bytes] of Object.entries(files)) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    assert.throws(() => readOnnx(f), oneLine(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not an ONNX model \\(`)));
  }
  assert.throws(() => readOnnx(path.join(dir, 'missing.onnx')), oneLine(/missing\.onnx: cannot read \(ENOENT\)$/));
});

test('compareOnnx refuses a bad file before running it, and names what ONNX Runtime refuses', async () => {
  const model = makeModel('smallcnn', { wStart: 2, aStart: 2 });
  const data = { images: new Uint8Array(2 * 144), labels: Int32Array.from([0, 1]), n: 2, channels: 1, height: 12, width: 12, numClasses: 10 };
  const bad = path.join(dir, 'bad.onnx');
  fs.writeFileSync(bad, Uint8Array.from([8, 7, 0xff, 0xff]));
  await assert.rejects(compareOnnx(bad, model, data, undefined), oneLine(/bad\.onnx: not an ONNX model \(truncated or another format/));
  // A well-formed ONNX model from elsewhere that ORT cannot run (an op no runtime has).
  const g = new GraphBuilder();
  g.reserve('pixels');
  g.nodes.push({ name: 'n', op_type: 'NoSuchOp', input: ['pixels'], output: ['logits'], attribute: [] });
  const alien = path.join(dir, 'alien.onnx');
  fs.writeFileSync(alien, encodeModel(modelProto(g, { name: 'x', opset: 17, inputs: [tensorInfo('pixels', [1])], outputs: [tensorInfo('logits', [1])] })));
  assert.equal(readOnnx(alien).card, null);
  const ver = loadOrt().env.versions.common;
  await assert.rejects(compareOnnx(alien, model, data, undefined), oneLine(new RegExp(`alien\\.onnx: ONNX Runtime ${ver.replace(/\./g, '\\.')} cannot load it: .*NoSuchOp`)));
});

test('a layer the exporter does not know is named in one line', () => {
  const config: ModelConfig = { name: 'custom', inChannels: 1, numClasses: 3 };
  const m = Object.assign(new Sequential(new Conv2d(1, 4, 3), new AdaptiveAvgPool2d(2), new Flatten(), new Linear(16, 3)), { config }) as Sequential & Model;
  assert.throws(() => exportOnnx(m), oneLine(/^onnx export: unsupported layer '1' \(AdaptiveAvgPool2d\(output_size=2\)\)$/));
});

test('an opset outside 13..25 is refused', () => {
  const m = makeModel('smallcnn');
  for (const opset of [12, 26, 21.5]) assert.throws(() => exportOnnx(m, { opset }), oneLine(/^onnx export: opset must be an integer from 13 to 25, got /));
});
