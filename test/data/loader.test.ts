import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { scope } from '../../src/engine/scope';
import { liveTensors } from '../../src/engine/runtime';
import { ImageDataset } from '../../src/data/dataset';
import { BatchLoader, Batch } from '../../src/data/loader';

/** n single-channel 2×2 images; image i is filled with 20·i and labelled i. */
function numbered(n: number): ImageDataset {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(20 * i, 4 * i, 4 * i + 4);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i), n, channels: 1, height: 2, width: 2, numClasses: n };
}
const ids = (b: Batch): number[] => b.y.toArray();
const epochIds = (l: BatchLoader, e: number): number[][] => scope(() => [...l.epoch(e)].map(ids));

test('order: every sample once per epoch, a pure function of (seed, epoch)', () => {
  const ds = numbered(10);
  const mk = (seed: number, dropLast = false): BatchLoader => new BatchLoader({ dataset: ds, batchSize: 3, shuffle: true, seed, dropLast });
  const a = mk(5);
  assert.equal(a.batchesPerEpoch, 4);
  const e0 = epochIds(a, 0);
  assert.deepEqual(e0.map((b) => b.length), [3, 3, 3, 1]);
  assert.deepEqual(e0.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(e0.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const e1 = epochIds(a, 1);
  assert.notDeepEqual(e1, e0);
  assert.deepEqual(e1.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A fresh loader (a resumed run) asked for epoch 1 first, then 0, sees the same batches.
  const b = mk(5);
  assert.deepEqual(epochIds(b, 1), e1);
  assert.deepEqual(epochIds(b, 0), e0);
  assert.deepEqual(scope(() => [...b.epoch(0, 2)].map(ids)), e0.slice(2));
  assert.deepEqual(scope(() => ids(b.batch(0, 1))), e0[1]);
  assert.notDeepEqual(epochIds(mk(6), 0), e0);
  const d = mk(5, true);
  assert.equal(d.batchesPerEpoch, 3);
  assert.deepEqual(epochIds(d, 0), e0.slice(0, 3));
  const plain = new BatchLoader({ dataset: ds, batchSize: 4 });
  assert.deepEqual(epochIds(plain, 7), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
});

test('batches: float32 [B, C, H, W] pixels / 255 and int64 labels that belong together', () => {
  scope(() => {
    const l = new BatchLoader({ dataset: numbered(10), batchSize: 3, shuffle: true, seed: 1 });
    for (const b of l.epoch(0)) {
      assert.equal(b.x.dtype, 'float32');
      assert.equal(b.y.dtype, 'int64');
      assert.deepEqual(b.x.shape, [b.size, 1, 2, 2]);
      assert.deepEqual(b.y.shape, [b.size]);
      const x = b.x.toArray();
      ids(b).forEach((i, k) => assert.deepEqual(x.slice(4 * k, 4 * k + 4), new Array(4).fill(Math.fround((20 * i) / 255))));
    }
  });
});

test('normalization: (pixel / 255 - mean) / std per channel; padding is 0 before normalization', () => {
  scope(() => {
    const two: ImageDataset = { images: new Uint8Array([0, 255]), labels: new Int32Array(1), n: 1, channels: 2, height: 1, width: 1, numClasses: 1 };
    const l = new BatchLoader({ dataset: two, batchSize: 1, normalize: { mean: [0.5, 0.25], std: [0.5, 2] } });
    assert.deepEqual(l.batch(0, 0).x.toArray(), [-1, 0.375]);
    const one: ImageDataset = { images: new Uint8Array([200]), labels: new Int32Array(1), n: 1, channels: 1, height: 1, width: 1, numClasses: 1 };
    const p = new BatchLoader({ dataset: one, batchSize: 1, seed: 3, normalize: { mean: [0.2], std: [0.4] }, augment: { cropPadding: 1 } });
    const seen = new Map<number, number>();
    for (let e = 0; e < 450; e++) {
      const v = p.batch(e, 0).x.item();
      seen.set(v, (seen.get(v) ?? 0) + 1);
    }
    const pixel = Math.fround((200 / 255 - 0.2) / 0.4);
    const pad = Math.fround((0 - 0.2) / 0.4);
    assert.deepEqual([...seen.keys()].sort(), [pad, pixel].sort());
    // The pixel survives only the centred crop: probability 1/9.
    assert.ok(Math.abs(seen.get(pixel)! - 50) < 25, `pixel kept ${seen.get(pixel)} times of 450`);
  });
});

/** Reference: zero-pad by p, crop H×W at (i, j), then mirror; written independently of the loader. */
function reference(img: number[][][], p: number, i: number, j: number, mirror: boolean): number[] {
  const out: number[] = [];
  for (const ch of img) {
    const H = ch.length, W = ch[0].length;
    const padded = Array.from({ length: H + 2 * p }, (_, y) => Array.from({ length: W + 2 * p }, (_, x) => ch[y - p]?.[x - p] ?? 0));
    for (let y = 0; y < H; y++) {
      const row = padded[y + i].slice(j, j + W);
      out.push(...(mirror ? row.reverse() : row));
    }
  }
  return out;
}

test('random crop and horizontal flip match the pad-crop-flip reference and cover every offset', () => {
  const img = [0, 1].map((c) => Array.from({ length: 3 }, (_, y) => Array.from({ length: 4 }, (_, x) => 100 * c + 4 * y + x + 1)));
  // Sanity of the reference itself: crop at (0, 2) moves row 0 of the image to row 1, one pixel left.
  assert.deepEqual(reference([img[0]], 1, 0, 2, false), [0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
  assert.deepEqual(reference([img[0]], 0, 0, 0, true), [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9]);
  const ds: ImageDataset = { images: Uint8Array.from(img.flat(2)), labels: new Int32Array(1), n: 1, channels: 2, height: 3, width: 4, numClasses: 1 };
  for (const [p, flip, kinds] of [[1, true, 18], [2, false, 25], [0, true, 2]] as [number, boolean, number][]) {
    const cands: number[][] = [];
    for (let i = 0; i <= 2 * p; i++) for (let j = 0; j <= 2 * p; j++) for (const m of flip ? [false, true] : [false]) cands.push(reference(img, p, i, j, m));
    assert.equal(new Set(cands.map((c) => c.join())).size, kinds);
    const l = new BatchLoader({ dataset: ds, batchSize: 1, seed: 11, augment: { cropPadding: p, hflip: flip } });
    const hit = new Set<number>();
    scope(() => {
      for (let e = 0; e < 40 * kinds; e++) {
        const got = l.batch(e, 0).x.toArray().map((v) => Math.round(v * 255));
        const k = cands.findIndex((c) => c.join() === got.join());
        assert.ok(k >= 0, `epoch ${e}: ${got.join()} is no pad-crop-flip of the image`);
        hit.add(k);
      }
    });
    assert.equal(hit.size, kinds);
    // Augmentation is part of the pure function of (seed, epoch, batch).
    const again = new BatchLoader({ dataset: ds, batchSize: 1, seed: 11, augment: { cropPadding: p, hflip: flip } });
    scope(() => assert.deepEqual(again.batch(7, 0).x.toArray(), l.batch(7, 0).x.toArray()));
  }
});

test('batch() inside a scope frees its tensors with the scope', () => {
  const l = new BatchLoader({ dataset: numbered(6), batchSize: 4, shuffle: true });
  const before = liveTensors();
  for (let i = 0; i < l.batchesPerEpoch; i++) scope(() => { l.batch(0, i).x.sum(); });
  assert.equal(liveTensors(), before);
});

test('bad options and indices give clear errors', () => {
  const ds = numbered(3);
  assert.throws(() => new BatchLoader({ dataset: ds, batchSize: 0 }), { message: 'BatchLoader: batchSize must be a positive integer, got 0' });
  assert.throws(() => new BatchLoader({ dataset: ds, batchSize: 1, normalize: { mean: [0, 0], std: [1, 1] } }),
    { message: 'BatchLoader: normalize needs 1 mean and std values, got 2 and 2' });
  assert.throws(() => new BatchLoader({ dataset: ds, batchSize: 1, normalize: { mean: [0], std: [0] } }), { message: 'BatchLoader: normalize std must be positive, got [0]' });
  assert.throws(() => new BatchLoader({ dataset: ds, batchSize: 1, augment: { cropPadding: -1 } }), { message: 'BatchLoader: cropPadding must be a non-negative integer, got -1' });
  assert.throws(() => new BatchLoader({ dataset: { ...ds, n: 4 }, batchSize: 1 }), { message: 'BatchLoader: 12 image bytes, expected 4×1×2×2' });
  const l = new BatchLoader({ dataset: ds, batchSize: 2 });
  assert.throws(() => l.batch(0, 2), { message: 'BatchLoader: batch 2 is outside 0..1' });
  assert.throws(() => l.batch(-1, 0), { message: 'BatchLoader: epoch must be a non-negative integer, got -1' });
});
