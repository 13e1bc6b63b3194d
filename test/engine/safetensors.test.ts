import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor } from '../../src/engine/tensor';
import { scope } from '../../src/engine/scope';
import { liveTensors } from '../../src/engine/runtime';
import { encodeSafetensors, decodeSafetensors, saveSafetensors, loadSafetensors, loadSafetensorsMetadata } from '../../src/engine/safetensors';

/** A file assembled from the published format description, independently of our writer. */
function rawFile(header: string, data: number[]): Buffer {
  const h = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeUInt32LE(h.length, 0); // u64 LE; high word stays 0
  h.copy(out, 8);
  Buffer.from(data).copy(out, 8 + h.length);
  return out;
}
const le32f = (v: number): number[] => { const b = Buffer.alloc(4); b.writeFloatLE(v); return [...b]; };
const le32i = (v: number): number[] => { const b = Buffer.alloc(4); b.writeInt32LE(v); return [...b]; };
const le16 = (v: number): number[] => [v & 0xff, v >> 8];

test('round trip of every dtype, 0-d and empty tensors, and metadata', () => {
  scope(() => {
    const src: Record<string, Tensor> = {
      f32: Tensor.from(new Float32Array([1.5, -2.25, 3e-38, Infinity, -0, 7]), [2, 3]),
      f64: Tensor.from(new Float64Array([Math.PI]), []),
      i64: Tensor.from(new BigInt64Array([-9007199254740993n, 2n ** 62n, 0n]), [3]),
      i32: Tensor.from(new Int32Array([-2147483648, 2147483647]), [1, 2]),
      u8: Tensor.from(new Uint8Array([0, 255, 128]), [3, 1, 1]),
      flag: Tensor.from(new Uint8Array([1, 0, 1]), [3], 'bool'),
      empty: Tensor.zeros([0, 4]),
      emptyInt: Tensor.zeros([3, 0], 'int64'),
    };
    const meta = { format: 'pt', note: 'ünïcode ✓', empty: '' };
    const back = decodeSafetensors(encodeSafetensors(src, meta));
    assert.deepEqual(Object.keys(back.tensors), Object.keys(src));
    for (const [k, t] of Object.entries(src)) {
      const b = back.tensors[k];
      assert.equal(b.dtype, t.dtype, k);
      assert.deepEqual(b.shape, t.shape, k);
      assert.deepEqual(b.data(), t.data(), k);
    }
    assert.ok(Object.is(back.tensors.f32.data()[4], -0));
    assert.deepEqual(back.metadata, meta);
  });
});

test('encoded layout: aligned header, insertion order, contiguous offsets', () => {
  scope(() => {
    const buf = encodeSafetensors({ z: Tensor.from([1, 2, 3]), a: Tensor.from(new Uint8Array([9])), m: Tensor.from(new Float64Array([2])) });
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
    assert.equal(header.__metadata__, undefined);
    assert.deepEqual(Object.keys(header), ['z', 'a', 'm']);
    assert.deepEqual(header.z, { dtype: 'F32', shape: [3], data_offsets: [0, 12] });
    assert.deepEqual(header.a, { dtype: 'U8', shape: [1], data_offsets: [12, 13] });
    assert.deepEqual(header.m, { dtype: 'F64', shape: [1], data_offsets: [13, 21] });
    assert.equal(buf.length, 8 + n + 21);
    assert.equal(buf.readFloatLE(8 + n + 4), 2);
    assert.equal(buf[8 + n + 12], 9);
    assert.equal(buf.readDoubleLE(8 + n + 13), 2);
  });
});

test('a hand-built file with out-of-order offsets and an unaligned data start loads', () => {
  scope(() => {
    const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"__metadata__":{"k":"v"},' +
      '"idx":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}';
    assert.notEqual(header.length % 4, 0); // data starts unaligned for F32/I32: exercises the copying path
    const f = decodeSafetensors(rawFile(header, [...le32i(-7), ...le32i(42), ...le32f(0.5), ...le32f(-3)]));
    assert.deepEqual(f.metadata, { k: 'v' });
    assert.deepEqual(f.tensors.w.toArray(), [0.5, -3]);
    assert.deepEqual(f.tensors.idx.toArray(), [-7, 42]);
    assert.equal(f.tensors.idx.dtype, 'int32');
  });
});

test('F16 and BF16 are read exactly as float32', () => {
  scope(() => {
    const half = [0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x3555];
    const bf = [0x3f80, 0xc0a0, 0x0000];
    const header = `{"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[14,20]}}`;
    const f = decodeSafetensors(rawFile(header, [...half.flatMap(le16), ...bf.flatMap(le16)]));
    assert.equal(f.tensors.h.dtype, 'float32');
    assert.deepEqual(f.tensors.h.toArray(), [1, -2, 2 ** -24, 65504, Infinity, -Infinity, Math.fround(0.333251953125)]);
    assert.deepEqual(f.tensors.b.toArray(), [1, -5, 0]);
    const nan = decodeSafetensors(rawFile('{"n":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}', le16(0x7e00)));
    assert.ok(Number.isNaN(nan.tensors.n.item()));
  });
});

test('each kind of corrupt input gives its one-line error naming the source', () => {
  const t = (h: string, data: number[] = []): Buffer => rawFile(h, data);
  const cases: [Buffer, string][] = [
    [Buffer.from([1, 0, 0]), 'safetensors bad.st: file shorter than 8 bytes (3)'],
    [(() => { const b = Buffer.alloc(12); b.writeUInt32LE(5, 0); return b; })(), 'safetensors bad.st: header length 5 beyond file size 12'],
    [t('{"a":'), 'safetensors bad.st: header is not JSON'],
    [t('[1,2]   '), 'safetensors bad.st: header is not a JSON object'],
    [t('{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', [0]), `safetensors bad.st: tensor 'a' has unsupported dtype "I8" (F32, F64, I64, I32, U8, BOOL, F16, BF16)`],
    [t('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)), `safetensors bad.st: tensor 'a' (F32 [3]) needs 12 bytes but data_offsets span 8`],
    [t('{"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', [1, 2, 3, 4]), `safetensors bad.st: tensor 'a' data_offsets [2, 6] outside the 4-byte buffer`],
    [t('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,0]}}', [1, 2]), `safetensors bad.st: tensor 'a' has invalid data_offsets [2,0]`],
    [t('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [1, 2, 3]),
      `safetensors bad.st: tensors 'a' and 'b' have overlapping data_offsets`],
    [t('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'), `safetensors bad.st: tensor 'a' has an invalid shape [-1]`],
    [t('{"a":7}'), `safetensors bad.st: entry 'a' is not an object`],
    [t('{"__metadata__":{"k":1}}'), `safetensors bad.st: metadata value 'k' is number, not a string`],
    [t('{"__metadata__":[]}'), 'safetensors bad.st: __metadata__ is not an object'],
    [t('{"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 2]), `safetensors bad.st: BOOL tensor 'a' holds byte 2 at element 1`],
  ];
  const before = liveTensors();
  for (const [buf, msg] of cases) {
    assert.throws(() => decodeSafetensors(buf, 'bad.st'), (e: Error) => {
      assert.ok(e.message.startsWith(msg), `got: ${e.message}\nwant: ${msg}`);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  }
  assert.equal(liveTensors(), before);
});

test('an empty tensor inside another span is not an overlap', () => {
  scope(() => {
    const f = decodeSafetensors(rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}', [1, 2, 3, 4]));
    assert.deepEqual(f.tensors.e.shape, [0]);
  });
});

test('a tensor named __proto__ becomes an ordinary key', () => {
  scope(() => {
    const f = decodeSafetensors(rawFile('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [5]));
    assert.deepEqual(Object.keys(f.tensors), ['__proto__']);
    assert.equal(Object.getPrototypeOf(f.tensors), Object.prototype);
  });
});

test('encode refuses non-string metadata and the reserved name', () => {
  scope(() => {
    const x = Tensor.from([1]);
    assert.throws(() => encodeSafetensors({ x }, { n: 3 as unknown as string }), { message: "safetensors: metadata value 'n' is number, not a string" });
    assert.throws(() => encodeSafetensors({ __metadata__: x }), { message: "safetensors: '__metadata__' is reserved and cannot name a tensor" });
  });
});

test('save is atomic and load round-trips; decoded tensors live in the caller scope', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  try {
    const file = path.join(dir, 'm.safetensors');
    fs.writeFileSync(file, 'old contents');
    scope(() => saveSafetensors(file, { w: Tensor.from([1, 2, 3, 4], [2, 2]) }, { step: '12' }));
    assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
    const before = liveTensors();
    scope(() => {
      const { tensors, metadata } = loadSafetensors(file);
      assert.deepEqual(metadata, { step: '12' });
      assert.deepEqual(tensors.w.shape, [2, 2]);
      assert.deepEqual(tensors.w.toArray(), [1, 2, 3, 4]);
      assert.equal(liveTensors(), before + 1);
    });
    assert.equal(liveTensors(), before);
    const missing = path.join(dir, 'nope.safetensors');
    assert.throws(() => loadSafetensors(missing), { message: `safetensors ${missing}: file not found` });
    const noDir = path.join(dir, 'no', 'x.safetensors');
    assert.throws(() => scope(() => saveSafetensors(noDir, { w: Tensor.from([1]) })), (e: Error) => e.message.startsWith(`safetensors ${noDir}: cannot write`));
    assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadSafetensorsMetadata reads the metadata without creating tensors, and validates the header', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-meta-'));
  const file = path.join(dir, 'm.safetensors');
  scope(() => saveSafetensors(file, { a: Tensor.from([1, 2, 3]) }, { card: '{"x":1}' }));
  const before = liveTensors();
  assert.deepEqual(loadSafetensorsMetadata(file), { card: '{"x":1}' });
  assert.equal(liveTensors(), before);
  fs.writeFileSync(path.join(dir, 'bad.safetensors'), 'garbage');
  assert.throws(() => loadSafetensorsMetadata(path.join(dir, 'bad.safetensors')), /file shorter than 8 bytes/);
  assert.throws(() => loadSafetensorsMetadata(path.join(dir, 'none.safetensors')), /file not found/);
});
