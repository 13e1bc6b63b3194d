import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadDataset, FASHION_MNIST_DIR } from '../../src/data/registry';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../../src/data/idx';
import { cifarBytes, idxBytes, tmpDir, writeFile } from './files';

test('fashion-mnist from the Debian package: sizes, first labels, documented statistics', () => {
  const { train, test: te, info } = loadDataset('fashion-mnist');
  assert.deepEqual([train.n, te.n, train.channels, train.height, train.width, train.numClasses], [60000, 10000, 1, 28, 28, 10]);
  assert.deepEqual(Array.from(train.labels.subarray(0, 10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  assert.equal(info.classes[9], 'Ankle boot');
  assert.equal(info.mean[0].toFixed(4), '0.2860');
  assert.equal(info.std[0].toFixed(4), '0.3530');
  const counts = new Array(10).fill(0);
  for (const l of te.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
});

test('idx: any folder with the four standard files, gzipped or not', () => {
  const dir = tmpDir();
  try {
    const img = (n: number, v: number): Buffer => idxBytes(IDX_IMAGES_MAGIC, [n, 2, 2], new Array(n * 4).fill(v));
    writeFile(dir, 'train-images-idx3-ubyte.gz', Buffer.concat([img(2, 0).subarray(0, 16), Buffer.from([0, 0, 0, 0, 255, 255, 255, 255])]), true);
    writeFile(dir, 'train-labels-idx1-ubyte', idxBytes(IDX_LABELS_MAGIC, [2], [0, 4]));
    writeFile(dir, 't10k-images-idx3-ubyte', img(1, 9));
    writeFile(dir, 't10k-labels-idx1-ubyte.gz', idxBytes(IDX_LABELS_MAGIC, [1], [6]), true);
    const { train, test: te, info } = loadDataset('idx', { dataDir: dir });
    assert.deepEqual([train.n, te.n, train.numClasses, te.numClasses], [2, 1, 7, 7]);
    assert.deepEqual(info, { name: 'idx', mean: [0.5], std: [0.5], classes: ['0', '1', '2', '3', '4', '5', '6'] });
    writeFile(dir, 't10k-images-idx3-ubyte', idxBytes(IDX_IMAGES_MAGIC, [1, 3, 2], new Array(6).fill(0)));
    assert.throws(() => loadDataset('idx', { dataDir: dir }), { message: 'idx: train images are 2×2 but test images 3×2' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('missing folders and files, unknown names', () => {
  const dir = tmpDir();
  try {
    const hint = ' (install it: apt-get install dataset-fashion-mnist)';
    assert.throws(() => loadDataset('fashion-mnist', { dataDir: path.join(dir, 'none') }), { message: `fashion-mnist: folder ${dir}/none not found${hint}` });
    writeFile(dir, 'train-images-idx3-ubyte', idxBytes(IDX_IMAGES_MAGIC, [0, 2, 2], []));
    assert.throws(() => loadDataset('fashion-mnist', { dataDir: dir }), { message: `fashion-mnist: missing ${dir}/train-labels-idx1-ubyte[.gz]${hint}` });
    assert.throws(() => loadDataset('mnist', { dataDir: dir }), { message: `mnist: missing ${dir}/train-labels-idx1-ubyte[.gz]` });
    assert.throws(() => loadDataset('mnist'), { message: 'mnist: give dataDir, the folder with train-images-idx3-ubyte[.gz] etc.' });
    assert.throws(() => loadDataset('cifar10'), { message: 'cifar10: give dataDir, the folder with data_batch_1..5.bin and test_batch.bin' });
    assert.throws(() => loadDataset('imagenet' as 'idx'), { message: "unknown dataset 'imagenet' (fashion-mnist, mnist, idx, cifar10, cifar100)" });
    assert.ok(FASHION_MNIST_DIR.startsWith('/usr/share/datasets/'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cifar10 and cifar100 through the registry: class names and per-channel statistics', () => {
  const dir = tmpDir();
  try {
    // Every image: R plane 0, G plane 255, B plane half 0 half 255 → means 0, 1, 0.5; stds 0, 0, 0.5.
    const rec = (labels: number[]): Buffer => Buffer.from([...labels, ...new Array(1024).fill(0), ...new Array(1024).fill(255), ...new Array(512).fill(0), ...new Array(512).fill(255)]);
    for (let b = 1; b <= 5; b++) writeFile(dir, `data_batch_${b}.bin`, rec([b]));
    writeFile(dir, 'test_batch.bin', rec([0]));
    const c10 = loadDataset('cifar10', { dataDir: dir });
    assert.deepEqual(c10.info, { name: 'cifar10', mean: [0, 1, 0.5], std: [0, 0, 0.5], classes: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] });
    assert.equal(c10.train.n, 5);
    writeFile(dir, 'train.bin', cifarBytes([{ labels: [19, 99], tag: 1 }]));
    writeFile(dir, 'test.bin', cifarBytes([{ labels: [0, 0], tag: 2 }]));
    const fine = loadDataset('cifar100', { dataDir: dir });
    assert.equal(fine.info.classes.length, 100);
    assert.equal(fine.info.classes[fine.train.labels[0]], 'worm');
    const coarse = loadDataset('cifar100', { dataDir: dir, cifar100Labels: 'coarse' });
    assert.equal(coarse.info.classes[coarse.train.labels[0]], 'vehicles_2');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
