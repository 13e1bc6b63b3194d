// What every row of a grid shares, loaded once: the FP teacher and the dataset split the way
// `gdnsq quantize` splits it (validation = the tail of the training set, the split the shipped
// teacher was trained without), so rows select on the same validation images and are tested
// on the same test split.
import * as fs from 'fs';
import { loadDataset, splitTrainVal, slice, defaultValSize, defaultHflip, ImageDataset, Augment } from '../data';
import { Model } from '../models';
import { ModelCard, FileRef, fileRef, loadModel } from '../train';
import { GridConfig } from './config';

export interface GridData {
  teacher: Model;
  card: ModelCard;
  teacherRef: FileRef;
  /** Size of the teacher's file (the FP row's model bytes). */
  teacherBytes: number;
  train: ImageDataset;
  val: ImageDataset;
  test: ImageDataset;
  augment: Augment;
}

export function loadGridData(config: GridConfig): GridData {
  if (!fs.existsSync(config.teacher)) throw new Error(`teacher checkpoint not found: ${config.teacher}`);
  const { model: teacher, card } = loadModel(config.teacher);
  try {
    if (card.quant) throw new Error(`${config.teacher} is already quantized: a grid starts from the FP teacher`);
    const ds = config.dataset;
    if (card.dataset !== ds.name) {
      throw new Error(`the teacher was trained on ${card.dataset}, the config's dataset is ${ds.name}`);
    }
    const data = loadDataset(ds.name, { dataDir: ds.dataDir });
    const split = splitTrainVal(data.train, ds.valSize ?? defaultValSize(data.train.n), { seed: config.seed, mode: 'tail' });
    const train = ds.trainLimit ? slice(split.train, 0, Math.min(ds.trainLimit, split.train.n)) : split.train;
    return {
      teacher, card, teacherRef: fileRef(config.teacher), teacherBytes: fs.statSync(config.teacher).size,
      train, val: split.val, test: data.test, augment: { cropPadding: ds.cropPadding ?? 2, hflip: ds.hflip ?? defaultHflip(ds.name) },
    };
  } catch (e) {
    teacher.dispose();
    throw e;
  }
}
