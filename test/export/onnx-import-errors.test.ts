// Files `gdnsq import` cannot take: each gets one line on stderr naming the problem and a non-zero
// exit, never a native crash or a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { encodeModel, ModelProto, DataType } from '../../src/export/onnx';
import { SUPPORTED_OPS } from '../../src/models';
import { importOnnx } from '../../src/export/import-onnx';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-bad-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Dims = (number | string)[];
const info = (name: string, dims: Dims): ModelProto['graph']['input'][number] => ({
  name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
});

interface Spec { opset?: number; inputs?: Dims[]; outputs?: number; op?: string; external?: boolean }
/** x [N, 1, 4, 4] → <op> → Flatten → Gemm(w) → logits, with the defects a spec asks for. */
function model(s: Spec = {}): Uint8Array {
  const inputs = (s.inputs ?? [['batch', 1, 4, 4]]).map((d, i) => info(i ? `x${i}` : 'x', d));
  const w = new Float32Array(16 * 3).fill(0.1);
  const init: Record<string, unknown> = { name: 'w', data_type: DataType.FLOAT, dims: [3, 16], raw_data: new Uint8Array(w.buffer) };
  if (s.external) Object.assign(init, { raw_data: new Uint8Array(0), data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }] });
  const outputs = Array.from({ length: s.outputs ?? 1 }, (_, i) => info(i ? `logits${i}` : 'logits', ['batch', 3]));
  const nodes = [
    { name: 'act', op_type: s.op ?? 'Relu', input: ['x'], output: ['a'], attribute: [] },
    { name: 'flat', op_type: 'Flatten', input: ['a'], output: ['f'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
    { name: 'fc', op_type: 'Gemm', input: ['f', 'w'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
  ];
  if ((s.outputs ?? 1) > 1) nodes.push({ name: 'fc2', op_type: 'Relu', input: ['logits'], output: ['logits1'], attribute: [] });
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: '', version: s.opset ?? 13 }], producer_name: 'test', producer_version: '',
    graph: { name: 'g', node: nodes, initializer: [init as never], input: inputs, output: outputs }, metadata_props: [],
  });
}

function importFile(name: string, bytes: Uint8Array | string): { status: number | null; lines: string[] } {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'gdnsq'), 'import', '--from', file, '--out', path.join(dir, 'out.safetensors')], { encoding: 'utf8' });
  return { status: r.status, lines: r.stderr.trim().split('\n').filter(Boolean) };
}

/** Through the CLI: one line on stderr, exit status ≠ 0. */
function refused(name: string, bytes: Uint8Array | string, pattern: RegExp): void {
  const r = importFile(name, bytes);
  assert.notEqual(r.status, 0, `${name}: exit status 0`);
  assert.equal(r.lines.length, 1, `${name}: expected one line, got:\n${r.lines.join('\n')}`);
  assert.match(r.lines[0], /^gdnsq: /);
  assert.match(r.lines[0], pattern);
}

/** In process (the CLI prints the error's first line): a one-line error naming the file. */
function refusedHere(name: string, bytes: Uint8Array | string, pattern: RegExp): void {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  assert.throws(() => importOnnx({ from: file, out: path.join(dir, 'out.safetensors') }), (e: Error) => {
    assert.ok(!e.message.includes('\n'), `${name}: a multi-line message`);
    assert.ok(e.message.startsWith(file), `${name}: the message does not name the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('a well-formed tiny model imports (the defects below are the only difference)', () => {
  const r = importFile('good.onnx', model());
  assert.equal(r.status, 0, r.lines.join('\n'));
});

test('an unsupported operator names the operator, the node and the supported list', () => {
  const r = importFile('lstm.onnx', model({ op: 'Resize' }));
  assert.notEqual(r.status, 0);
  assert.equal(r.lines.length, 1);
  assert.match(r.lines[0], /unsupported operator Resize \(node 'act'\); supported: /);
  for (const op of ['Conv', 'Gemm', 'MatMul', 'Softmax', 'LayerNormalization', 'HardSwish']) assert.ok(r.lines[0].includes(op));
  assert.ok(SUPPORTED_OPS.every((op) => r.lines[0].includes(op)));
});

test('dynamic spatial shape, external data, several inputs or outputs, opset out of range, truncated and non-ONNX files: one line each', () => {
  refused('dynamic.onnx', model({ inputs: [['batch', 1, 'height', 4]] }), /dynamic dimension 2 \('height'\).*static shape except the batch/);
  refusedHere('external.onnx', model({ external: true }), /tensor 'w' is stored in an external data file/);
  refusedHere('inputs.onnx', model({ inputs: [['batch', 1, 4, 4], ['batch', 1, 4, 4]] }), /2 inputs and 1 output; gdnsq imports a model with one input/);
  refusedHere('outputs.onnx', model({ outputs: 2 }), /1 input and 2 outputs/);
  refusedHere('opset11.onnx', model({ opset: 11 }), /opset 11 is outside the range gdnsq imports \(13\.\.21/);
  refusedHere('opset22.onnx', model({ opset: 22 }), /opset 22 is outside/);
  const good = model();
  refused('truncated.onnx', good.subarray(0, good.length - 40), /not an ONNX model|truncated/);
  refusedHere('text.onnx', 'this is not a model\n', /not an ONNX model/);
});
