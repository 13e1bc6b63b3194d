// Mini-batches from an in-memory ImageDataset. The order of epoch e is a permutation drawn from
// Rng(seed, e) and the augmentation of batch b from Rng(seed, e, b): both are pure functions of
// their keys, so a run resumed at (epoch, batch) sees exactly the batches it would have seen.
// Augmentation follows torchvision's RandomCrop(padding=p) then RandomHorizontalFlip: the padded
// pixels are 0 before normalization, i.e. (0 − mean) / std after it.
import { Tensor } from '../engine/tensor';
import { ImageDataset, checkDataset, imageSize } from './dataset';
import { Rng } from './rng';

export interface Normalize { mean: number[]; std: number[] }
export interface Augment {
  /** Random crop of the image zero-padded by this many pixels on each side (0: none). */
  cropPadding?: number;
  /** Mirror left-right with probability 1/2. */
  hflip?: boolean;
}
export interface BatchLoaderOptions {
  dataset: ImageDataset;
  batchSize: number;
  /** Reshuffle every epoch (default false: dataset order). */
  shuffle?: boolean;
  seed?: number;
  /** Skip the last, smaller batch (default false). */
  dropLast?: boolean;
  /** Per-channel statistics of pixels in [0, 1]; without it x is pixel / 255. */
  normalize?: Normalize;
  augment?: Augment;
}
/** Rows start..end-1 of a batch. */
export interface Rows { start: number; end: number }
/** x: float32 [size, C, H, W]; y: int64 [size]. */
export interface Batch { x: Tensor; y: Tensor; size: number }
/** A batch before it becomes tensors; the arrays are reused by the next call. */
export interface BatchArrays { x: Float32Array; y: BigInt64Array; size: number }

/**
 * Tensors are created when a batch is requested, so they belong to whatever scope is open at
 * that moment. `for (const b of loader.epoch(e)) scope(() => step(b))` therefore leaves each
 * batch in the scope around the loop until that scope ends; to free every batch with its step,
 * request it inside the step's scope:
 *   for (let i = 0; i < loader.batchesPerEpoch; i++) scope(() => step(loader.batch(e, i)));
 */
export class BatchLoader {
  readonly batchesPerEpoch: number;
  private readonly ds: ImageDataset;
  private readonly size: number;
  private readonly lut: Float32Array;
  private readonly pad: number;
  private readonly flip: boolean;
  private readonly xBuf: Float32Array;
  private readonly yBuf: BigInt64Array;
  private cached: { epoch: number; order: Int32Array } | null = null;

  constructor(private readonly opts: BatchLoaderOptions) {
    const ds = checkDataset(opts.dataset, 'BatchLoader');
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${batchSize}`);
    if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) throw new Error(`BatchLoader: seed must be an integer, got ${opts.seed}`);
    this.pad = opts.augment?.cropPadding ?? 0;
    if (!Number.isInteger(this.pad) || this.pad < 0) throw new Error(`BatchLoader: cropPadding must be a non-negative integer, got ${this.pad}`);
    this.flip = opts.augment?.hflip ?? false;
    this.ds = ds;
    this.size = imageSize(ds);
    this.lut = BatchLoader.lookupTable(ds.channels, opts.normalize);
    this.batchesPerEpoch = opts.dropLast ? Math.floor(ds.n / batchSize) : Math.ceil(ds.n / batchSize);
    const rows = Math.min(batchSize, ds.n);
    this.xBuf = new Float32Array(rows * this.size);
    this.yBuf = new BigInt64Array(rows);
  }

  /** Float value of every byte per channel: normalizing is then one table read per pixel. */
  private static lookupTable(channels: number, norm: Normalize | undefined): Float32Array {
    const mean = norm?.mean ?? new Array<number>(channels).fill(0);
    const std = norm?.std ?? new Array<number>(channels).fill(1);
    if (mean.length !== channels || std.length !== channels) {
      throw new Error(`BatchLoader: normalize needs ${channels} mean and std values, got ${mean.length} and ${std.length}`);
    }
    if (!std.every((s) => s > 0 && Number.isFinite(s))) throw new Error(`BatchLoader: normalize std must be positive, got [${std.join(', ')}]`);
    const lut = new Float32Array(channels * 256);
    for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
    return lut;
  }

  /** The sample indices of an epoch, in the order they are served. */
  order(epoch: number): Int32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`BatchLoader: epoch must be a non-negative integer, got ${epoch}`);
    if (this.cached?.epoch !== epoch) {
      const order = this.opts.shuffle ? new Rng(this.opts.seed ?? 0, epoch).permutation(this.ds.n) : Int32Array.from({ length: this.ds.n }, (_, i) => i);
      this.cached = { epoch, order };
    }
    return this.cached.order;
  }

  /** Batch `index` of `epoch` as tensors in the caller's scope (`rows`: only that part of it). */
  batch(epoch: number, index: number, rows?: Rows): Batch {
    const a = this.batchArrays(epoch, index, rows);
    const { channels: c, height: h, width: w } = this.ds;
    return {
      x: Tensor.from(a.x.subarray(0, a.size * this.size), [a.size, c, h, w]),
      y: Tensor.from(a.y.subarray(0, a.size), [a.size]),
      size: a.size,
    };
  }

  /** Batches startBatch.. of an epoch; see the class comment for which scope owns them. */
  *epoch(epoch: number, startBatch = 0): Generator<Batch> {
    for (let i = startBatch; i < this.batchesPerEpoch; i++) yield this.batch(epoch, i);
  }

  /** Rows in batch `index` of `epoch` (the last batch may be smaller). */
  batchSize(index: number): number {
    return Math.min(this.opts.batchSize, this.ds.n - index * this.opts.batchSize);
  }

  /**
   * Fills the reused buffers with batch `index` of `epoch` (no tensors); `rows` picks a part
   * of it (a rank's shard): the augmentation draws of the rows before it are replayed, so the
   * part is exactly those rows of the whole batch.
   */
  batchArrays(epoch: number, index: number, rows?: Rows): BatchArrays {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new Error(`BatchLoader: batch ${index} is outside 0..${this.batchesPerEpoch - 1}`);
    }
    const order = this.order(epoch);
    const start = index * this.opts.batchSize;
    const full = this.batchSize(index);
    const from = rows?.start ?? 0, to = rows?.end ?? full;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > full || from >= to) {
      throw new Error(`BatchLoader: rows ${from}..${to} are outside batch ${index} (0..${full})`);
    }
    const rng = this.pad > 0 || this.flip ? new Rng(this.opts.seed ?? 0, epoch, index) : null;
    const span = 2 * this.pad + 1;
    for (let k = 0; k < to; k++) {
      const src = order[start + k];
      const dy = rng && this.pad ? rng.int(span) - this.pad : 0;
      const dx = rng && this.pad ? rng.int(span) - this.pad : 0;
      const mirror = rng !== null && this.flip && (rng.nextU32() & 1) === 1;
      if (k < from) continue;
      this.copyImage(src * this.size, (k - from) * this.size, dy, dx, mirror);
      this.yBuf[k - from] = BigInt(this.ds.labels[src]);
    }
    return { x: this.xBuf, y: this.yBuf, size: to - from };
  }

  /** out[c][y][x] = in[c][y + dy][(mirror ? W−1−x : x) + dx], or the padding value outside. */
  private copyImage(from: number, to: number, dy: number, dx: number, mirror: boolean): void {
    const { channels: C, height: H, width: W, images } = this.ds;
    const out = this.xBuf;
    const lut = this.lut;
    // Columns whose source lies inside the image.
    const x0 = Math.max(0, mirror ? dx : -dx);
    const x1 = Math.max(x0, Math.min(W, mirror ? W + dx : W - dx));
    for (let c = 0; c < C; c++) {
      const lc = c * 256;
      const padValue = lut[lc];
      for (let y = 0; y < H; y++) {
        const o = to + (c * H + y) * W;
        const sy = y + dy;
        if (sy < 0 || sy >= H) {
          out.fill(padValue, o, o + W);
          continue;
        }
        const row = from + (c * H + sy) * W;
        if (x0 > 0) out.fill(padValue, o, o + x0);
        if (mirror) {
          const base = row + W - 1 + dx;
          for (let x = x0; x < x1; x++) out[o + x] = lut[lc + images[base - x]];
        } else {
          const base = row + dx;
          for (let x = x0; x < x1; x++) out[o + x] = lut[lc + images[base + x]];
        }
        if (x1 < W) out.fill(padValue, o + x1, o + W);
      }
    }
  }
}
