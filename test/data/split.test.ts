import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ImageDataset } from '../../src/data/dataset';
import { splitTrainVal } from '../../src/data/split';

/** Image i is the single byte i; label i % 2. */
const ds: ImageDataset = {
  images: Uint8Array.from({ length: 20 }, (_, i) => i), labels: Int32Array.from({ length: 20 }, (_, i) => i % 2),
  n: 20, channels: 1, height: 1, width: 1, numClasses: 2,
};

test('tail: the last valSize images are the validation set', () => {
  const { train, val } = splitTrainVal(ds, 5);
  assert.deepEqual(Array.from(train.images), Array.from({ length: 15 }, (_, i) => i));
  assert.deepEqual(Array.from(val.images), [15, 16, 17, 18, 19]);
  assert.deepEqual(Array.from(val.labels), [1, 0, 1, 0, 1]);
  assert.equal(splitTrainVal(ds, 0).val.n, 0);
});

test('random: seeded, disjoint, complete, order kept', () => {
  const a = splitTrainVal(ds, 6, { mode: 'random', seed: 3 });
  const b = splitTrainVal(ds, 6, { mode: 'random', seed: 3 });
  const c = splitTrainVal(ds, 6, { mode: 'random', seed: 4 });
  const v = Array.from(a.val.images);
  const t = Array.from(a.train.images);
  assert.deepEqual(Array.from(b.val.images), v);
  assert.notDeepEqual(Array.from(c.val.images), v);
  assert.equal(v.length, 6);
  assert.deepEqual([...v, ...t].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(v, [...v].sort((x, y) => x - y));
  assert.deepEqual(Array.from(a.val.labels), v.map((i) => i % 2));
  assert.notDeepEqual(v, [14, 15, 16, 17, 18, 19]);
});

test('bad arguments', () => {
  assert.throws(() => splitTrainVal(ds, 20), { message: 'splitTrainVal: valSize must be an integer in 0..19, got 20' });
  assert.throws(() => splitTrainVal(ds, 2, { mode: 'head' as 'tail' }), { message: "splitTrainVal: unknown mode 'head' (tail, random)" });
});
