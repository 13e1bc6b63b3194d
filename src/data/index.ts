export { ImageDataset, imageSize, checkDataset, checkLabels, slice, subset, channelStats } from './dataset';
export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdx, readIdxImages, readIdxLabels, loadIdxPair } from './idx';
export { CIFAR10_CLASSES, CIFAR100_FINE_CLASSES, CIFAR100_COARSE_CLASSES, CifarRecordFormat, readCifarFiles, loadCifar10, loadCifar100 } from './cifar';
export { DATASET_NAMES, DatasetName, DatasetInfo, LoadedDataset, LoadDatasetOptions, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadDataset } from './registry';
export { SplitOptions, splitTrainVal } from './split';
export { Rng } from './rng';
export { Normalize, Augment, BatchLoaderOptions, Batch, BatchArrays, BatchLoader, Rows } from './loader';
export { defaultValSize, defaultHflip } from './defaults';
