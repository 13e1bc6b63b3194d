// An image classification set held in memory as raw bytes: the layout the readers produce and
// the batch loader consumes. Pixels stay uint8 (a quarter of float32's memory); the loader
// converts and normalizes per batch.

export interface ImageDataset {
  /** n × channels × height × width bytes, CHW per image. */
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
}

export function imageSize(ds: ImageDataset): number {
  return ds.channels * ds.height * ds.width;
}

/** Throws unless the sizes agree and every label is a class index. */
export function checkDataset(ds: ImageDataset, where = 'dataset'): ImageDataset {
  const dims = [ds.n, ds.channels, ds.height, ds.width, ds.numClasses];
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${where}: sizes must be non-negative integers, got [${dims.join(', ')}]`);
  if (ds.images.length !== ds.n * imageSize(ds)) {
    throw new Error(`${where}: ${ds.images.length} image bytes, expected ${ds.n}×${ds.channels}×${ds.height}×${ds.width}`);
  }
  if (ds.labels.length !== ds.n) throw new Error(`${where}: ${ds.labels.length} labels for ${ds.n} images`);
  checkLabels(ds.labels, ds.numClasses, where);
  return ds;
}

export function checkLabels(labels: Int32Array, numClasses: number, where: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0 || labels[i] >= numClasses) throw new Error(`${where}: label ${labels[i]} at index ${i} is outside 0..${numClasses - 1}`);
  }
}

/** Images start..end (exclusive): views, no copy. */
export function slice(ds: ImageDataset, start: number, end = ds.n): ImageDataset {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > ds.n || start > end) {
    throw new Error(`slice: range ${start}..${end} is outside 0..${ds.n}`);
  }
  const size = imageSize(ds);
  return { ...ds, images: ds.images.subarray(start * size, end * size), labels: ds.labels.subarray(start, end), n: end - start };
}

/** The images at the given indices, in that order (copied). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const size = imageSize(ds);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new Error(`subset: index ${i} is outside 0..${ds.n - 1}`);
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i];
  }
  return { ...ds, images, labels, n: indices.length };
}

/**
 * Per-channel mean and (population) standard deviation of the pixels scaled to [0, 1], the
 * numbers the loader's normalize option takes.
 */
export function channelStats(ds: ImageDataset): { mean: number[]; std: number[] } {
  const plane = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    // Byte histogram: exact sums without a float pass over every pixel twice.
    const hist = new Float64Array(256);
    for (let i = 0; i < ds.n; i++) {
      const base = (i * ds.channels + c) * plane;
      for (let p = base; p < base + plane; p++) hist[ds.images[p]]++;
    }
    let count = 0;
    let sum = 0;
    let sq = 0;
    for (let v = 0; v < 256; v++) {
      count += hist[v];
      sum += hist[v] * v;
      sq += hist[v] * v * v;
    }
    if (count === 0) throw new Error('channelStats: the dataset is empty');
    const m = sum / count;
    mean.push(m / 255);
    std.push(Math.sqrt(Math.max(0, sq / count - m * m)) / 255);
  }
  return { mean, std };
}
