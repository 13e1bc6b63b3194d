// Loader throughput: one pass over Fashion-MNIST train, batch 128, crop (padding 2) + flip +
// normalization, tensors created and freed per batch as a trainer would. Dataset loading
// (gunzip) is timed separately.
import { scope } from '../src/engine/scope';
import { loadDataset } from '../src/data/registry';
import { BatchLoader } from '../src/data/loader';

export function benchLoader(o: { dataDir?: string; epochs?: number } = {}): void {
  const t0 = performance.now();
  const { train, info } = loadDataset('fashion-mnist', { dataDir: o.dataDir });
  const loadS = (performance.now() - t0) / 1000;
  const loader = new BatchLoader({
    dataset: train, batchSize: 128, shuffle: true, seed: 1, normalize: info, augment: { cropPadding: 2, hflip: true },
  });
  const epochs = o.epochs ?? 1;
  let images = 0;
  const t1 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < loader.batchesPerEpoch; i++) images += scope(() => loader.batch(e, i).size);
  }
  const s = (performance.now() - t1) / 1000;
  console.log(JSON.stringify({ name: 'loader', img_per_s: Math.round(images / s), images, seconds: +s.toFixed(3), load_s: +loadS.toFixed(3) }));
}

if (require.main === module) benchLoader();
