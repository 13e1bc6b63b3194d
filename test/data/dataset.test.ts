import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ImageDataset, checkDataset, slice, subset, channelStats } from '../../src/data/dataset';

/** n images of 2 channels × 1 × 2; image i holds [i, i+1 | 2i, 0], label i % 3. */
function tiny(n: number): ImageDataset {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.set([i, i + 1, 2 * i, 0], i * 4);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), n, channels: 2, height: 1, width: 2, numClasses: 3 };
}

test('slice is a view, subset a copy in the given order', () => {
  const ds = tiny(5);
  const s = slice(ds, 1, 3);
  assert.deepEqual([s.n, Array.from(s.labels), Array.from(s.images)], [2, [1, 2], [1, 2, 2, 0, 2, 3, 4, 0]]);
  assert.equal(s.images.buffer, ds.images.buffer);
  assert.equal(slice(ds, 3).n, 2);
  const u = subset(ds, [4, 0, 4]);
  assert.deepEqual([u.n, Array.from(u.labels), Array.from(u.images)], [3, [1, 0, 1], [4, 5, 8, 0, 0, 1, 0, 0, 4, 5, 8, 0]]);
  u.images[0] = 77;
  assert.equal(ds.images[16], 4);
  assert.throws(() => slice(ds, 2, 6), { message: 'slice: range 2..6 is outside 0..5' });
  assert.throws(() => subset(ds, [5]), { message: 'subset: index 5 is outside 0..4' });
});

test('channelStats: per-channel mean and population std of pixels / 255', () => {
  const ds = tiny(4);
  const { mean, std } = channelStats(ds);
  // Channel 0 holds i, i+1 for i = 0..3: {0,1,1,2,2,3,3,4}; channel 1 holds 2i, 0: {0,0,2,0,4,0,6,0}.
  const m0 = 16 / 8, m1 = 12 / 8;
  const v0 = [0, 1, 1, 2, 2, 3, 3, 4].reduce((s, x) => s + (x - m0) ** 2, 0) / 8;
  const v1 = [0, 0, 2, 0, 4, 0, 6, 0].reduce((s, x) => s + (x - m1) ** 2, 0) / 8;
  assert.ok(Math.abs(mean[0] - m0 / 255) < 1e-15 && Math.abs(mean[1] - m1 / 255) < 1e-15);
  assert.ok(Math.abs(std[0] - Math.sqrt(v0) / 255) < 1e-15 && Math.abs(std[1] - Math.sqrt(v1) / 255) < 1e-15);
  assert.deepEqual(channelStats({ ...ds, images: new Uint8Array([0, 255, 255, 0]), labels: new Int32Array(1), n: 1 }), { mean: [0.5, 0.5], std: [0.5, 0.5] });
});

test('checkDataset names the inconsistency', () => {
  const ds = tiny(3);
  assert.equal(checkDataset(ds), ds);
  assert.throws(() => checkDataset({ ...ds, n: 4 }, 'x'), { message: 'x: 12 image bytes, expected 4×2×1×2' });
  assert.throws(() => checkDataset({ ...ds, labels: new Int32Array(2) }, 'x'), { message: 'x: 2 labels for 3 images' });
  assert.throws(() => checkDataset({ ...ds, labels: Int32Array.from([0, 3, 1]) }, 'x'), { message: 'x: label 3 at index 1 is outside 0..2' });
});
