// Sharded sampling: every rank draws the same seeded permutation (the wrapped loader's), cuts
// each global batch into worldSize contiguous parts and keeps its own. Rank r of N takes rows
// ⌊S·r/N⌋..⌊S·(r+1)/N⌋ of a global batch of S rows, so the union of the shards is exactly the
// batch one rank would train on with batch size S; a last batch too small to give every rank a
// row is dropped (on every rank alike).
import { Batch, BatchLoader } from '../data';

/** A batch with the size of the global batch it is a shard of (for exact gradient weighting). */
export interface ShardBatch extends Batch { globalSize: number }

export class ShardedLoader {
  readonly batchesPerEpoch: number;

  /** `loader` must use the global batch size (per-rank batch × world size). */
  constructor(readonly loader: BatchLoader, readonly rank: number, readonly worldSize: number) {
    if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
      throw new Error(`ShardedLoader: rank ${rank} is not in 0..${worldSize - 1}`);
    }
    let n = loader.batchesPerEpoch;
    if (n > 0 && loader.batchSize(n - 1) < worldSize) n--;
    this.batchesPerEpoch = n;
  }

  /** This rank's rows of global batch `index`. */
  rows(index: number): { start: number; end: number } {
    const s = this.loader.batchSize(index);
    return { start: Math.floor((s * this.rank) / this.worldSize), end: Math.floor((s * (this.rank + 1)) / this.worldSize) };
  }

  batch(epoch: number, index: number): ShardBatch {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new Error(`ShardedLoader: batch ${index} is outside 0..${this.batchesPerEpoch - 1}`);
    }
    return { ...this.loader.batch(epoch, index, this.rows(index)), globalSize: this.loader.batchSize(index) };
  }

  *epoch(epoch: number, startBatch = 0): Generator<ShardBatch> {
    for (let i = startBatch; i < this.batchesPerEpoch; i++) yield this.batch(epoch, i);
  }
}
