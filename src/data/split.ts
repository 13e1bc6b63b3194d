// Hold out a validation set from the training set. 'tail' takes the last valSize images, the
// split of the Fashion-MNIST anchor in GDNSQ.md §7; 'random' takes a seeded random subset.
import { ImageDataset, slice, subset } from './dataset';
import { Rng } from './rng';

export interface SplitOptions { seed?: number; mode?: 'tail' | 'random' }

export function splitTrainVal(ds: ImageDataset, valSize: number, opts: SplitOptions = {}): { train: ImageDataset; val: ImageDataset } {
  if (!Number.isInteger(valSize) || valSize < 0 || valSize >= ds.n) {
    throw new Error(`splitTrainVal: valSize must be an integer in 0..${ds.n - 1}, got ${valSize}`);
  }
  const mode = opts.mode ?? 'tail';
  if (mode === 'tail') return { train: slice(ds, 0, ds.n - valSize), val: slice(ds, ds.n - valSize) };
  if (mode !== 'random') throw new Error(`splitTrainVal: unknown mode '${mode as string}' (tail, random)`);
  // Both parts keep the original order, so the split depends on the seed only through membership.
  const perm = new Rng(opts.seed ?? 0, 0x5b1f).permutation(ds.n);
  const inVal = new Uint8Array(ds.n);
  for (let k = 0; k < valSize; k++) inVal[perm[k]] = 1;
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (let i = 0; i < ds.n; i++) (inVal[i] ? valIdx : trainIdx).push(i);
  return { train: subset(ds, trainIdx), val: subset(ds, valIdx) };
}
