// Defaults that follow the data instead of one dataset: the validation split scales with the
// training set, and horizontal flips are only on where a mirrored image is the same class.
import { DatasetName } from './registry';

/** Validation images held out of n training images: 10%, at most 5,000 (Fashion-MNIST's 60k → 5,000). */
export function defaultValSize(n: number): number {
  return Math.min(5000, Math.floor(n / 10));
}

// A mirrored shoe or shirt is still one; a mirrored digit (or an unknown IDX set) may not be.
const FLIP_VALID: Record<DatasetName, boolean> = { 'fashion-mnist': true, cifar10: true, cifar100: true, mnist: false, idx: false };

/** Whether random horizontal flips are on by default for this dataset. */
export function defaultHflip(name: DatasetName): boolean {
  return FLIP_VALID[name] ?? false;
}
