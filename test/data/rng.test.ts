import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng';

test('xoshiro128** matches the reference C implementation from state [1, 2, 3, 4]', () => {
  const r = new Rng();
  r.setState([1, 2, 3, 4]);
  // Printed by the authors' xoshiro128starstar.c next() with s = {1, 2, 3, 4}.
  assert.deepEqual(Array.from({ length: 8 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  for (let i = 0; i < 992; i++) r.nextU32();
  assert.equal(r.nextU32(), 136054147);
});

test('streams are pure functions of their keys; state()/setState() resumes exactly', () => {
  const draw = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.nextU32());
  assert.deepEqual(draw(new Rng(7, 3), 20), draw(new Rng(7, 3), 20));
  assert.notDeepEqual(draw(new Rng(7, 3), 4), draw(new Rng(7, 4), 4));
  assert.notDeepEqual(draw(new Rng(7), 4), draw(new Rng(7, 0), 4));
  assert.notDeepEqual(draw(new Rng(1), 4), draw(new Rng(1 + 2 ** 32), 4));
  assert.notDeepEqual(draw(new Rng(-1), 4), draw(new Rng(2 ** 32 - 1), 4));
  const a = new Rng(42);
  draw(a, 5);
  const saved = a.state();
  const rest = draw(a, 10);
  const b = new Rng(0);
  b.setState(saved);
  assert.deepEqual(draw(b, 10), rest);
});

test('int() is in range and uniform; permutation() is a permutation', () => {
  const r = new Rng(5);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, `count ${c}`); // ~4.4 sigma
  for (let i = 0; i < 1000; i++) {
    const v = r.next();
    assert.ok(v >= 0 && v < 1);
  }
  const p = new Rng(9).permutation(1000);
  assert.deepEqual(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(Array.from(p.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Each position is uniform over the values: position 0 over 3 elements.
  const first = [0, 0, 0];
  for (let s = 0; s < 3000; s++) first[new Rng(s).permutation(3)[0]]++;
  for (const c of first) assert.ok(Math.abs(c - 1000) < 120, `count ${c}`);
});

test('bad arguments give clear errors', () => {
  assert.throws(() => new Rng(0.5), { message: 'Rng: key 0.5 is not a safe integer' });
  assert.throws(() => new Rng(1).int(0), { message: 'Rng.int: n must be an integer in 1..2^32, got 0' });
  assert.throws(() => new Rng(1).setState([1, 2, 3]), { message: 'Rng.setState: expected 4 unsigned 32-bit integers' });
  assert.throws(() => new Rng(1).setState([0, 0, 0, 0]), { message: 'Rng.setState: the all-zero state is invalid' });
});
