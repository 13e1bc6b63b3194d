// CIFAR-10 / CIFAR-100 "binary version" files. CIFAR-10 (cifar-10-batches-bin/): records of
// 1 label byte + 3072 bytes (R, G, B planes of 32×32), data_batch_1..5.bin and test_batch.bin.
// CIFAR-100 (cifar-100-binary/): records of coarse byte + fine byte + 3072, train.bin, test.bin.
import * as fs from 'fs';
import * as path from 'path';
import { ImageDataset } from './dataset';

const CHANNELS = 3;
const SIDE = 32;
const PIXELS = CHANNELS * SIDE * SIDE;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_FINE_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

export const CIFAR100_COARSE_CLASSES = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles',
  'small_mammals', 'trees', 'vehicles_1', 'vehicles_2',
];

export interface CifarRecordFormat {
  /** Label bytes in front of each image (1 for CIFAR-10, 2 for CIFAR-100). */
  labelBytes: number;
  /** Which of those bytes is the label used. */
  labelIndex: number;
  numClasses: number;
}

/** Concatenates the records of the given files into one dataset. */
export function readCifarFiles(files: string[], format: CifarRecordFormat): ImageDataset {
  const record = format.labelBytes + PIXELS;
  const bufs = files.map((f) => {
    if (!fs.existsSync(f)) throw new Error(`cifar ${f}: file not found`);
    const b = fs.readFileSync(f);
    if (b.length % record !== 0) throw new Error(`cifar ${f}: size ${b.length} is not a multiple of the ${record}-byte record`);
    return b;
  });
  const n = bufs.reduce((s, b) => s + b.length / record, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  bufs.forEach((b, fi) => {
    for (let off = 0; off < b.length; off += record, k++) {
      const label = b[off + format.labelIndex];
      if (label >= format.numClasses) {
        throw new Error(`cifar ${files[fi]}: label ${label} in record ${off / record} is outside 0..${format.numClasses - 1}`);
      }
      labels[k] = label;
      images.set(b.subarray(off + format.labelBytes, off + record), k * PIXELS);
    }
  });
  return { images, labels, n, channels: CHANNELS, height: SIDE, width: SIDE, numClasses: format.numClasses };
}

/** dir itself when it holds the first file, else the archive's own folder inside dir. */
function resolveDir(dir: string, sub: string, probe: string): string {
  if (fs.existsSync(path.join(dir, probe))) return dir;
  const inner = path.join(dir, sub);
  return fs.existsSync(path.join(inner, probe)) ? inner : dir;
}

export function loadCifar10(dir: string): { train: ImageDataset; test: ImageDataset } {
  const d = resolveDir(dir, 'cifar-10-batches-bin', 'data_batch_1.bin');
  const format = { labelBytes: 1, labelIndex: 0, numClasses: 10 };
  const trainFiles = [1, 2, 3, 4, 5].map((i) => path.join(d, `data_batch_${i}.bin`));
  return { train: readCifarFiles(trainFiles, format), test: readCifarFiles([path.join(d, 'test_batch.bin')], format) };
}

/** Fine labels (100 classes) by default; coarse gives the 20 superclasses. */
export function loadCifar100(dir: string, labels: 'fine' | 'coarse' = 'fine'): { train: ImageDataset; test: ImageDataset } {
  const d = resolveDir(dir, 'cifar-100-binary', 'train.bin');
  const format = labels === 'fine' ? { labelBytes: 2, labelIndex: 1, numClasses: 100 } : { labelBytes: 2, labelIndex: 0, numClasses: 20 };
  return { train: readCifarFiles([path.join(d, 'train.bin')], format), test: readCifarFiles([path.join(d, 'test.bin')], format) };
}
