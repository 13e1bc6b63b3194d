import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack, packedBytes, bitsFor } from '../../src/export/bitpack';

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test('unpack(pack(codes)) == codes for widths 1–8 and sizes that are not multiples of 8', () => {
  const r = rng(7);
  for (let bits = 1; bits <= 8; bits++) {
    for (const n of [0, 1, 2, 3, 5, 7, 8, 9, 13, 31, 64, 100, 577, 1000 + Math.floor(r() * 1000)]) {
      const codes = Uint8Array.from({ length: n }, () => Math.floor(r() * 2 ** bits));
      const bytes = pack(codes, bits);
      assert.equal(bytes.length, Math.ceil((n * bits) / 8), `bytes for n=${n}, bits=${bits}`);
      assert.deepEqual(unpack(bytes, n, bits), codes, `n=${n}, bits=${bits}`);
    }
  }
});

test('1-bit layout: element i is bit i mod 8 of byte ⌊i/8⌋', () => {
  assert.deepEqual([...pack([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1)], [0b00000001, 0b00000010]);
  assert.deepEqual([...pack([0, 1, 1, 0, 1, 0, 0, 1], 1)], [0b10010110]);
});

test('2-bit layout: first element in the lowest two bits (ONNX uint2)', () => {
  assert.deepEqual([...pack([1, 2, 3, 0, 3], 2)], [0b00111001, 0b00000011]);
});

test('3-bit layout: codes run contiguously across byte boundaries, LSB first', () => {
  // codes 5 (101), 3 (011), 6 (110): stream bits 0-2 = 101, 3-5 = 011, 6-8 = 110 (the third
  // code's lowest two bits end byte 0, its top bit starts byte 1).
  // byte 0 = bits 7..0: c2[1] c2[0] c1[2] c1[1] c1[0] c0[2] c0[1] c0[0] = 1 0 0 1 1 1 0 1
  assert.deepEqual([...pack([5, 3, 6], 3)], [0b10011101, 0b00000001]);
  // eight 3-bit codes fill exactly three bytes
  assert.deepEqual([...pack([7, 0, 0, 0, 0, 0, 0, 7], 3)], [0b00000111, 0b00000000, 0b11100000]);
});

test('4-bit layout: first element in the low nibble (ONNX uint4)', () => {
  assert.deepEqual([...pack([0x1, 0xf, 0xa], 4)], [0xf1, 0x0a]);
});

test('bad widths, codes and byte counts are refused with one line', () => {
  assert.throws(() => pack([4], 2), /^Error: bit packing: code 4 at element 0 does not fit in 2 bits \(0\.\.3\)$/);
  assert.throws(() => pack([1.5], 2), /code 1.5 at element 0 does not fit/);
  assert.throws(() => pack([0], 9), /width must be an integer from 1 to 8, got 9/);
  assert.throws(() => unpack(new Uint8Array(1), 9, 1), /^Error: bit packing: 9 codes of 1 bits need 2 bytes, got 1$/);
  assert.equal(packedBytes(10, 3), 4);
  assert.deepEqual([0, 1, 2, 3, 4, 255].map(bitsFor), [1, 1, 2, 2, 3, 8]);
});
