import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readIdx, readIdxImages, readIdxLabels, loadIdxPair, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../../src/data/idx';
import { idxBytes, tmpDir, writeFile } from './files';

const pixels = Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 11) % 256);

test('reads raw and gzipped IDX image and label files alike', () => {
  const dir = tmpDir();
  try {
    for (const gz of [false, true]) {
      const img = writeFile(dir, `img${gz}`, idxBytes(IDX_IMAGES_MAGIC, [3, 2, 4], pixels), gz);
      const lab = writeFile(dir, `lab${gz}`, idxBytes(IDX_LABELS_MAGIC, [3], [4, 0, 2]), gz);
      const r = readIdxImages(img);
      assert.deepEqual([r.n, r.height, r.width], [3, 2, 4]);
      assert.deepEqual(Array.from(r.images), pixels);
      assert.deepEqual(Array.from(readIdxLabels(lab, 5)), [4, 0, 2]);
      const ds = loadIdxPair(img, lab);
      assert.deepEqual([ds.n, ds.channels, ds.height, ds.width, ds.numClasses], [3, 1, 2, 4, 5]);
      assert.equal(loadIdxPair(img, lab, 10).numClasses, 10);
      assert.deepEqual(Array.from(ds.labels), [4, 0, 2]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt IDX files give one-line errors naming the file', () => {
  const dir = tmpDir();
  try {
    const f = (name: string, bytes: Buffer, gz = false): string => writeFile(dir, name, bytes, gz);
    const good = idxBytes(IDX_IMAGES_MAGIC, [3, 2, 4], pixels);
    const labels = f('labels', idxBytes(IDX_LABELS_MAGIC, [3], [1, 2, 3]));
    const cases: [() => unknown, string][] = [
      [() => readIdx(path.join(dir, 'absent'), IDX_IMAGES_MAGIC), `idx ${dir}/absent: file not found`],
      [() => readIdxImages(labels), `idx ${labels}: wrong magic 0x00000801, expected 0x00000803`],
      [() => readIdxImages(f('short', Buffer.from([0, 0]))), `idx ${dir}/short: truncated file (2 bytes, no magic)`],
      [() => readIdxImages(f('hdr', good.subarray(0, 10))), `idx ${dir}/hdr: truncated file (10 bytes, header needs 16)`],
      [() => readIdxImages(f('data', good.subarray(0, good.length - 1), true)), `idx ${dir}/data: truncated file (dims [3, 2, 4] need 24 data bytes, found 23)`],
      [() => readIdxImages(f('long', Buffer.concat([good, Buffer.from([0])]))), `idx ${dir}/long: dims mismatch (dims [3, 2, 4] need 24 data bytes, found 25)`],
      [() => readIdxLabels(labels, 3), `idx ${labels}: label 3 at index 2 is outside 0..2`],
      [() => loadIdxPair(f('img', good), f('two', idxBytes(IDX_LABELS_MAGIC, [2], [0, 1]))), `idx ${dir}/two: 2 labels but ${dir}/img has 3 images`],
    ];
    const gz = f('badgz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    for (const [fn, msg] of cases) assert.throws(fn, { message: msg });
    assert.throws(() => readIdxImages(gz), (e: Error) => e.message.startsWith(`idx ${gz}: cannot gunzip (`) && !e.message.includes('\n'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
