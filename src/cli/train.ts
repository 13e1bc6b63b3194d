// `gdnsq train`: floating-point training of a model on an image dataset.
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { F, setNumThreads, manualSeed, getNumThreads } from '../engine';
import { DATASET_NAMES, DatasetName, loadDataset, splitTrainVal, slice, BatchLoader, defaultValSize, defaultHflip } from '../data';
import { createModel, MODEL_NAMES, ModelArgs, takesImageSize } from '../models';
import { SGD, Adam, AdamW, RAdam, Schedule, schedules } from '../optim';
import { Trainer, evaluate, ModelCard, loadModelFile } from '../train';
import { int, num, oneOf } from './options';
import { loadModel, quantOf } from './model-file';
import { DataParallel, ShardedLoader } from '../distributed';
import { DistCliOptions, addDistOptions, launchIfAsked, joinRun } from './dist-options';

const OPTIMIZERS = ['sgd', 'adam', 'adamw', 'radam'] as const;
const SCHEDULES = ['onecycle', 'cosine', 'step', 'constant'] as const;

interface TrainOpts {
  model: string; dataset: DatasetName;
  /** Start from this FP checkpoint (its architecture, weights and input normalization), e.g. an imported ONNX model. */
  init?: string; dataDir?: string; epochs: number; batchSize: number;
  lr: number; optimizer: (typeof OPTIMIZERS)[number]; momentum: number; nesterov: boolean;
  weightDecay: number; schedule: (typeof SCHEDULES)[number]; warmupSteps: number; seed: number;
  threads?: number; cropPadding: number; hflip?: boolean; valSize?: number; valSplit: 'tail' | 'random';
  out: string; resume: boolean; patience?: number; progress: boolean; trainLimit?: number;
  /** Data-parallel run (--batch-size is per rank); saveEvery: resume state every n steps too. */
  dist?: DataParallel | null; saveEvery?: number;
}

function makeSchedule(o: TrainOpts, total: number): Schedule {
  const warm = (inner: Schedule): Schedule => (o.warmupSteps > 0 ? schedules.linearWarmup(o.warmupSteps, inner) : inner);
  switch (o.schedule) {
    case 'onecycle': return schedules.oneCycle({ peak: 1, total, pctStart: 0.15 });
    case 'cosine': return warm(schedules.cosine(Math.max(1, total - o.warmupSteps)));
    case 'step': return warm(schedules.step(Math.max(1, Math.round(total / 3)), 0.1));
    default: return warm(schedules.constant());
  }
}

/** The model's arguments from the dataset; a model built for one input size (mobilenetv2, vit) gets the dataset's. */
function modelArgs(name: string, d: { channels: number; numClasses: number; height: number; width: number }, dataset: string): ModelArgs {
  const args: ModelArgs = { inChannels: d.channels, numClasses: d.numClasses };
  if (!takesImageSize(name)) return args;
  if (d.height !== d.width) throw new Error(`${name} takes square images; ${dataset} has ${d.height}×${d.width}`);
  return { ...args, imageSize: d.height };
}

export async function runTrain(o: TrainOpts): Promise<void> {
  if (o.threads) setNumThreads(o.threads);
  manualSeed(o.seed);
  const init = o.init ? loadModel(o.init) : null;
  if (init && quantOf(init.card)) throw new Error(`${o.init} is quantized: --init takes an FP checkpoint (fine-tune a quantized one with gdnsq quantize)`);
  o = { ...o, dataset: o.dataset ?? (init?.card.dataset as DatasetName | undefined) ?? 'fashion-mnist', model: init ? init.card.model : o.model };
  const data = loadDataset(o.dataset, { dataDir: o.dataDir });
  const valSize = o.valSize ?? defaultValSize(data.train.n);
  const hflip = o.hflip ?? defaultHflip(o.dataset);
  const split = splitTrainVal(data.train, valSize, { seed: o.seed, mode: o.valSplit });
  const val = split.val;
  const train = o.trainLimit ? slice(split.train, 0, Math.min(o.trainLimit, split.train.n)) : split.train;
  // A model given by --init keeps its input convention (an imported graph may normalize inside).
  const normalize = init ? init.card.normalize : { mean: data.info.mean, std: data.info.std };
  const model = init ? init.model : createModel(o.model, modelArgs(o.model, train, o.dataset));
  if (init && (model.config.inChannels !== train.channels || model.config.numClasses !== train.numClasses)) {
    throw new Error(`${o.init}: the model takes ${model.config.inChannels} channels and has ${model.config.numClasses} classes; ${o.dataset} has ${train.channels} and ${train.numClasses}`);
  }
  // The --init card's own training record is replaced by this run's.
  const initCard = init ? Object.fromEntries(Object.entries(init.card).filter(([k]) => k !== 'train')) : {};
  const card: ModelCard = {
    ...(init ? { ...initCard, init: { from: path.basename(o.init!) } } : {}),
    model: o.model, args: { ...model.config }, dataset: o.dataset, normalize,
    train: { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, optimizer: o.optimizer, weightDecay: o.weightDecay, schedule: o.schedule, seed: o.seed, valSize, valSplit: o.valSplit, cropPadding: o.cropPadding, hflip },
  };
  const params = model.parameters();
  const optimizer = (() => {
    switch (o.optimizer) {
      case 'sgd': return new SGD(params, { lr: o.lr, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay });
      case 'adam': return new Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
      case 'adamw': return new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
      default: return new RAdam(params, { lr: o.lr, weightDecay: o.weightDecay });
    }
  })();
  const dist = o.dist ?? null;
  const main = !dist || dist.isMain;
  const global = new BatchLoader({ dataset: train, batchSize: o.batchSize * (dist?.worldSize ?? 1), shuffle: true, seed: o.seed, normalize, augment: { cropPadding: o.cropPadding, hflip } });
  const trainLoader = dist ? new ShardedLoader(global, dist.rank, dist.worldSize) : global;
  const valLoader = val.n > 0 ? new BatchLoader({ dataset: val, batchSize: 500, normalize }) : undefined;
  const schedule = makeSchedule(o, o.epochs * trainLoader.batchesPerEpoch);
  const trainer = new Trainer({
    model, optimizer, train: trainLoader, val: valLoader,
    epochs: o.epochs, outDir: o.out, card, seed: o.seed, patience: o.patience, progress: o.progress, title: o.model, dist, saveEvery: o.saveEvery,
    hooks: {
      loss: (b) => {
        const logits = model.forward(b.x);
        return { loss: F.crossEntropy(logits, b.y), logits };
      },
      lrFactor: schedule,
    },
  });
  if (o.resume) trainer.resume();
  else if (fs.existsSync(trainer.resumePath)) throw new Error(`${o.out} already holds a run: pass --resume to continue it, or choose another --out`);
  if (main) process.stderr.write(`training ${o.model} (${model.numParameters()} parameters) on ${o.dataset}: ${train.n} train / ${val.n} val images, ${getNumThreads()} threads${dist ? ` × ${dist.worldSize} ranks` : ''}\n`);
  const res = await trainer.fit();
  if (res.interrupted) process.exit(130);
  if (!main) return;
  // The test split is touched once, with the checkpoint selected on validation.
  const best = loadModelFile(trainer.bestPath);
  model.loadStateDict(best.state);
  const test = evaluate(model, new BatchLoader({ dataset: data.test, batchSize: 500, normalize }).epoch(0));
  const summary = {
    model: o.model, dataset: o.dataset, epochs_run: res.state.epoch, best_epoch: res.bestEpoch + 1,
    val_top1: res.best, test_top1: test.top1, test_top5: test.top5, test_loss: test.loss,
    train_seconds: res.state.seconds, checkpoint: path.basename(trainer.bestPath),
  };
  fs.writeFileSync(path.join(o.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary));
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a floating-point model')
    .option('--model <name>', `model (${MODEL_NAMES.join(', ')})`, 'resnet20')
    .option('--init <checkpoint>', 'fine-tune this FP checkpoint (an imported ONNX model, or any gdnsq FP checkpoint) instead of a fresh --model')
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')}; default: the --init checkpoint's, else fashion-mnist)`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 30)
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 128)
    .option('--lr <x>', 'peak learning rate', num('--lr', 0), 0.1)
    .option('--optimizer <name>', OPTIMIZERS.join('|'), oneOf('--optimizer', OPTIMIZERS), 'sgd')
    .option('--momentum <x>', 'SGD momentum', num('--momentum', 0), 0.9)
    .option('--no-nesterov', 'plain (not Nesterov) momentum')
    .option('--weight-decay <x>', 'weight decay', num('--weight-decay', 0), 5e-4)
    .option('--schedule <name>', SCHEDULES.join('|'), oneOf('--schedule', SCHEDULES), 'onecycle')
    .option('--warmup-steps <n>', 'linear warm-up steps (cosine/step/constant)', int('--warmup-steps'), 0)
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--threads <n>', 'intra-op threads (default: all cores)', int('--threads', 1))
    .option('--crop-padding <n>', 'random-crop padding in pixels (0: off)', int('--crop-padding'), 2)
    .option('--hflip', 'random horizontal flips (default: on for fashion-mnist and cifar, off for mnist and idx)')
    .option('--no-hflip', 'no random horizontal flips')
    .option('--val-size <n>', 'validation images taken from the training set (default 10%, at most 5000)', int('--val-size'))
    .option('--val-split <mode>', 'tail|random', oneOf('--val-split', ['tail', 'random'] as const), 'tail')
    .option('--train-limit <n>', 'use only the first n training images (quick runs)', int('--train-limit', 1))
    .option('--patience <n>', 'early stop after n epochs without improvement', int('--patience', 1))
    .option('--no-progress', 'no progress output')
    .requiredOption('--out <dir>', 'output folder (checkpoints, metrics.jsonl, summary.json)')
    .option('--resume', 'continue the run in --out');
  addDistOptions(cmd)
    .action(async (o: TrainOpts & DistCliOptions) => {
      const code = await launchIfAsked(o);
      if (code !== null) {
        if (code !== 0) process.exit(code);
        return;
      }
      const dist = joinRun(o);
      try {
        await runTrain({ ...o, resume: !!o.resume, dist });
      } finally {
        dist?.group.destroy();
      }
    });
}
