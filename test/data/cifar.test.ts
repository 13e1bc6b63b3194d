import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadCifar10, loadCifar100, CIFAR100_FINE_CLASSES, CIFAR100_COARSE_CLASSES } from '../../src/data/cifar';
import { cifarBytes, cifarPixel, tmpDir, writeFile } from './files';

function expectImages(images: Uint8Array, tags: number[]): void {
  assert.equal(images.length, tags.length * 3072);
  tags.forEach((tag, k) => {
    for (const j of [0, 1, 1023, 1024, 2048, 3071]) assert.equal(images[k * 3072 + j], cifarPixel(tag, j), `image ${k} byte ${j}`);
  });
}

test('CIFAR-10: five training batches in order, test batch, archive subfolder found', () => {
  const dir = tmpDir();
  try {
    const sub = path.join(dir, 'cifar-10-batches-bin');
    for (let b = 1; b <= 5; b++) writeFile(sub, `data_batch_${b}.bin`, cifarBytes([{ labels: [b], tag: b * 10 }, { labels: [9], tag: b * 10 + 1 }]));
    writeFile(sub, 'test_batch.bin', cifarBytes([{ labels: [0], tag: 99 }]));
    for (const d of [dir, sub]) {
      const { train, test: te } = loadCifar10(d);
      assert.deepEqual([train.n, train.channels, train.height, train.width, train.numClasses], [10, 3, 32, 32, 10]);
      assert.deepEqual(Array.from(train.labels), [1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
      expectImages(train.images, [10, 11, 20, 21, 30, 31, 40, 41, 50, 51]);
      assert.deepEqual(Array.from(te.labels), [0]);
      expectImages(te.images, [99]);
    }
    writeFile(sub, 'test_batch.bin', cifarBytes([{ labels: [10], tag: 1 }]));
    assert.throws(() => loadCifar10(dir), { message: `cifar ${sub}/test_batch.bin: label 10 in record 0 is outside 0..9` });
    writeFile(sub, 'test_batch.bin', Buffer.alloc(3072));
    assert.throws(() => loadCifar10(dir), { message: `cifar ${sub}/test_batch.bin: size 3072 is not a multiple of the 3073-byte record` });
    fs.rmSync(path.join(sub, 'data_batch_4.bin'));
    assert.throws(() => loadCifar10(dir), { message: `cifar ${sub}/data_batch_4.bin: file not found` });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CIFAR-100: fine labels by default, coarse on request', () => {
  const dir = tmpDir();
  try {
    writeFile(dir, 'train.bin', cifarBytes([{ labels: [3, 77], tag: 1 }, { labels: [19, 99], tag: 2 }]));
    writeFile(dir, 'test.bin', cifarBytes([{ labels: [0, 5], tag: 3 }]));
    const fine = loadCifar100(dir);
    assert.deepEqual(Array.from(fine.train.labels), [77, 99]);
    assert.equal(fine.train.numClasses, 100);
    expectImages(fine.train.images, [1, 2]);
    const coarse = loadCifar100(dir, 'coarse');
    assert.deepEqual(Array.from(coarse.train.labels), [3, 19]);
    assert.deepEqual(Array.from(coarse.test.labels), [0]);
    assert.equal(coarse.test.numClasses, 20);
    writeFile(dir, 'test.bin', cifarBytes([{ labels: [20, 100], tag: 3 }]));
    assert.throws(() => loadCifar100(dir), { message: `cifar ${dir}/test.bin: label 100 in record 0 is outside 0..99` });
    assert.throws(() => loadCifar100(dir, 'coarse'), { message: `cifar ${dir}/test.bin: label 20 in record 0 is outside 0..19` });
    writeFile(dir, 'train.bin', Buffer.alloc(3075));
    assert.throws(() => loadCifar100(dir), { message: `cifar ${dir}/train.bin: size 3075 is not a multiple of the 3074-byte record` });
    assert.equal(new Set(CIFAR100_FINE_CLASSES).size, 100);
    assert.equal(new Set(CIFAR100_COARSE_CLASSES).size, 20);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
