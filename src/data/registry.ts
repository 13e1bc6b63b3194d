// Datasets by name. Normalization statistics are always computed from the training images
// (pixels in [0, 1], population std), so they match the data actually loaded. For reference:
//   fashion-mnist  mean 0.2860  std 0.3530   (Debian dataset-fashion-mnist, 60k train images)
//   cifar10        mean 0.4914 0.4822 0.4465  std 0.2470 0.2435 0.2616
//   cifar100       mean 0.5071 0.4865 0.4409  std 0.2673 0.2564 0.2762
import * as fs from 'fs';
import * as path from 'path';
import { ImageDataset, channelStats } from './dataset';
import { loadIdxPair } from './idx';
import { CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, loadCifar10, loadCifar100 } from './cifar';

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'idx', 'cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface DatasetInfo { name: DatasetName; mean: number[]; std: number[]; classes: string[] }
export interface LoadedDataset { train: ImageDataset; test: ImageDataset; info: DatasetInfo }
export interface LoadDatasetOptions {
  /** The folder with the dataset's files; fashion-mnist defaults to FASHION_MNIST_DIR. */
  dataDir?: string;
  /** CIFAR-100 labels: the 100 fine classes (default) or the 20 coarse ones. */
  cifar100Labels?: 'fine' | 'coarse';
}

const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const FASHION_HINT = ' (install it: apt-get install dataset-fashion-mnist)';

/** The gzipped or the plain file, whichever exists. */
function idxFile(dir: string, base: string, name: string, hint: string): string {
  for (const f of [`${base}.gz`, base]) if (fs.existsSync(path.join(dir, f))) return path.join(dir, f);
  throw new Error(`${name}: missing ${path.join(dir, base)}[.gz]${hint}`);
}

function loadIdxFolder(name: DatasetName, dir: string, numClasses: number | undefined, hint: string): { train: ImageDataset; test: ImageDataset } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${name}: folder ${dir} not found${hint}`);
  const [trImg, trLab, teImg, teLab] = IDX_FILES.map((f) => idxFile(dir, f, name, hint));
  const train = loadIdxPair(trImg, trLab, numClasses);
  const test = loadIdxPair(teImg, teLab, numClasses);
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(`${name}: train images are ${train.height}×${train.width} but test images ${test.height}×${test.width}`);
  }
  const classes = Math.max(train.numClasses, test.numClasses);
  train.numClasses = test.numClasses = classes;
  return { train, test };
}

function needDir(name: DatasetName, dataDir: string | undefined, what: string): string {
  if (!dataDir) throw new Error(`${name}: give dataDir, the folder with ${what}`);
  return dataDir;
}

export function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): LoadedDataset {
  let split: { train: ImageDataset; test: ImageDataset };
  let classes: string[];
  switch (name) {
    case 'fashion-mnist':
      split = loadIdxFolder(name, opts.dataDir ?? FASHION_MNIST_DIR, 10, FASHION_HINT);
      classes = FASHION_MNIST_CLASSES;
      break;
    case 'mnist':
      split = loadIdxFolder(name, needDir(name, opts.dataDir, 'train-images-idx3-ubyte[.gz] etc.'), 10, '');
      classes = Array.from({ length: 10 }, (_, i) => String(i));
      break;
    case 'idx':
      split = loadIdxFolder(name, needDir(name, opts.dataDir, 'train-images-idx3-ubyte[.gz] etc.'), undefined, '');
      classes = Array.from({ length: split.train.numClasses }, (_, i) => String(i));
      break;
    case 'cifar10':
      split = loadCifar10(needDir(name, opts.dataDir, 'data_batch_1..5.bin and test_batch.bin'));
      classes = CIFAR10_CLASSES;
      break;
    case 'cifar100': {
      const labels = opts.cifar100Labels ?? 'fine';
      split = loadCifar100(needDir(name, opts.dataDir, 'train.bin and test.bin'), labels);
      classes = labels === 'fine' ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES;
      break;
    }
    default:
      throw new Error(`unknown dataset '${name as string}' (${DATASET_NAMES.join(', ')})`);
  }
  const { mean, std } = channelStats(split.train);
  return { ...split, info: { name, mean, std, classes: classes.slice() } };
}
