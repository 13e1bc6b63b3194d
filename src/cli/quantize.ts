// `gdnsq quantize`: GDNSQ fine-tuning of a trained FP checkpoint to target bit-widths. The run
// itself is the library's train.finetune(); this file parses arguments, loads files and prints.
import { Command, InvalidArgumentError } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { setNumThreads, manualSeed } from '../engine';
import { DATASET_NAMES, DatasetName, loadDataset, splitTrainVal, slice, defaultValSize, defaultHflip } from '../data';
import {
  QuantizeOptions, QUANT_METHODS, QuantMethod, DISTILL_LOSSES, DistillLoss, BN_MODES, BnMode, ANNEAL_MODES, AnnealMode,
  DESCENT_SHAPES, DescentShape, ACT_INITS, ActInit,
} from '../quant';
import { GraphModel, graphFpNodes } from '../models';
import { loadTrainingCard, finetune, FinetuneSummary, DESCENT_SCHEDULES, DescentSchedule, fileRef, chooseBatchSize, descentBudget } from '../train';
import { loadModel } from './model-file';
import { int, num, oneOf } from './options';
import { DataParallel } from '../distributed';
import { DistCliOptions, addDistOptions, launchIfAsked, joinRun } from './dist-options';

export interface QuantizeCliOptions {
  teacher: string; dataset?: DatasetName; dataDir?: string; wbits: number; abits: number; epochs: number; timeBudget?: number;
  schedule: DescentSchedule; descent: number; descentShape: DescentShape; holdDrop: number; stagger?: number;
  method: QuantMethod; actMethod: QuantMethod; loss: DistillLoss; out: string; resume?: string; batchSize?: number; lr: number; qlr?: number;
  kappa: number; warmupSteps?: number; anneal?: AnnealMode; lrDecayPerEpoch: number; startBits: number; actInit?: ActInit; calibBatches: number; bn: BnMode;
  perTensor?: boolean; quantizeFirst?: boolean; quantizeLast?: boolean; quantizeShortcuts?: boolean; quantizeBias?: boolean;
  detachWeightRange?: boolean; learnLower?: boolean;
  patience?: number; valSize?: number; trainLimit?: number; seed: number; threads?: number; progress: boolean;
  logEvery: number; cropPadding: number; hflip?: boolean; avgWbits?: number; avgAbits?: number; layers?: Record<string, { wBits?: number; aBits?: number }>; exclude?: string[];
  /** Steps between resume states (besides epoch ends). */
  saveEvery?: number;
  /** Ranks the run was started with (saved for --resume: the global batch depends on it). */
  ranks?: number;
  /** The launcher's count of all ranks (preflight only). */
  nprocTotal?: number;
}

/** The settings of the run saved in DIR, its paths made absolute again. */
function savedRun(dir: string): QuantizeCliOptions {
  const card = loadTrainingCard(path.join(dir, 'resume.safetensors'));
  const run = card.run as QuantizeCliOptions | undefined;
  if (!run || typeof run.teacher !== 'string') throw new Error(`${dir}: not a gdnsq quantize run (no run settings in resume.safetensors)`);
  const teacher = path.resolve(dir, run.teacher);
  const want = (card.teacher as { sha256?: string } | null)?.sha256;
  if (!fs.existsSync(teacher)) throw new Error(`${dir}: the run's teacher ${run.teacher} (relative to the run folder) is missing`);
  if (want && fileRef(teacher).sha256 !== want) throw new Error(`${dir}: the teacher ${teacher} is not the file the run started from (SHA-256 differs)`);
  return { ...run, teacher, dataDir: run.dataDir ? path.resolve(dir, run.dataDir) : undefined };
}

export function quantizeOptions(o: QuantizeCliOptions): QuantizeOptions {
  return {
    wBits: o.wbits, aBits: o.abits, method: o.method, actMethod: o.actMethod, bn: o.bn, perChannel: !o.perTensor, startBits: o.startBits,
    quantizeFirst: !!o.quantizeFirst, quantizeLast: !!o.quantizeLast, quantizeShortcuts: !!o.quantizeShortcuts, quantizeBias: !!o.quantizeBias,
    weightRangeGrad: !o.detachWeightRange, ...(o.learnLower !== undefined ? { learnLower: o.learnLower } : {}),
    ...(o.layers ? { layers: o.layers } : {}), ...(o.exclude ? { exclude: o.exclude } : {}),
    ...(o.avgWbits !== undefined || o.avgAbits !== undefined ? { budget: { wBits: o.avgWbits, aBits: o.avgAbits } } : {}),
  };
}

function trainingData(o: QuantizeCliOptions, dataset: DatasetName) {
  const data = loadDataset(dataset, { dataDir: o.dataDir });
  const valSize = o.valSize ?? defaultValSize(data.train.n);
  const split = splitTrainVal(data.train, valSize, { seed: o.seed, mode: 'tail' });
  const train = o.trainLimit ? slice(split.train, 0, Math.min(o.trainLimit, split.train.n)) : split.train;
  return { data, valSize, split, train };
}

/**
 * Before any worker starts: the planned descent's budget for this data (chooseBatchSize), so an
 * unworkable budget is refused once, in one line, and a batch chosen for it is the same on every rank.
 */
function preflight(o: QuantizeCliOptions): void {
  if (o.resume || o.schedule !== 'planned' || o.timeBudget !== undefined || !fs.existsSync(o.teacher)) return;
  const card = loadTrainingCard(o.teacher);
  const { train } = trainingData(o, o.dataset ?? (card.dataset as DatasetName));
  const layerBits = Object.values(o.layers ?? {}).flatMap((b) => [b.wBits, b.aBits]);
  const targets = [o.wbits, o.abits, ...layerBits].filter((b): b is number => b !== undefined && b < 32);
  const choice = chooseBatchSize(descentBudget({ epochs: o.epochs, descent: o.descent, shape: o.descentShape, warmupSteps: o.warmupSteps, stagger: o.stagger }, train.n, o.nprocTotal ?? 1, o.startBits, Math.min(...targets, o.startBits)), o.batchSize);
  o.batchSize = choice.batchSize;
}

export async function runQuantize(cli: QuantizeCliOptions, dist: DataParallel | null = null): Promise<FinetuneSummary> {
  // On --resume every setting comes from the run being resumed.
  const o: QuantizeCliOptions = cli.resume ? { ...savedRun(cli.resume), resume: cli.resume, out: cli.resume, threads: cli.threads, progress: cli.progress } : cli;
  const ranks = dist?.worldSize ?? 1;
  if (cli.resume && (o.ranks ?? 1) !== ranks) throw new Error(`${cli.resume}: the run was started with ${o.ranks ?? 1} rank(s) (its batch is per rank): resume it with --nproc ${o.ranks ?? 1}`);
  if (o.threads) setNumThreads(o.threads);
  manualSeed(o.seed);
  const { model: teacher, card: tcard } = loadModel(o.teacher);
  if (tcard.quant) throw new Error(`${o.teacher} is already quantized: give the FP teacher checkpoint`);
  // An imported graph: the weightless nodes, which quantize() does not see, and why they stay FP.
  if (teacher instanceof GraphModel && (!dist || dist.isMain)) for (const line of graphFpNodes(teacher.desc)) console.log(line);
  const dataset = o.dataset ?? (tcard.dataset as DatasetName);
  const { data, valSize, split, train } = trainingData(o, dataset);
  const hflip = o.hflip ?? defaultHflip(dataset);
  // What --resume needs, with paths relative to the run folder (no absolute path in a checkpoint).
  const rel = (p: string | undefined): string | undefined => (p ? path.relative(path.resolve(o.out), path.resolve(p)) : undefined);
  const launcher = { nproc: undefined, nnodes: undefined, nodeRank: undefined, masterAddr: undefined, masterPort: undefined, distTimeout: undefined, device: undefined };
  const runCard = { ...o, ...launcher, teacher: rel(o.teacher), dataDir: rel(o.dataDir), out: undefined, resume: undefined, threads: undefined, progress: undefined, valSize, hflip, ranks };
  fs.mkdirSync(o.out, { recursive: true });
  const summary = await finetune({
    teacher, teacherCard: tcard, teacherRef: fileRef(o.teacher), train, val: split.val, test: data.test,
    quantize: quantizeOptions(o), epochs: o.epochs, timeBudgetMin: o.timeBudget, schedule: o.schedule, descent: o.descent,
    shape: o.descentShape, holdDrop: o.holdDrop, stagger: o.stagger, warmupSteps: o.warmupSteps, lr: o.lr, qlr: o.qlr, kappa: o.kappa,
    anneal: o.anneal, decayPerEpoch: o.lrDecayPerEpoch, loss: o.loss, patience: o.patience, batchSize: o.batchSize,
    startBits: o.startBits, actInit: o.actInit, calibBatches: o.calibBatches, augment: { cropPadding: o.cropPadding, hflip }, seed: o.seed,
    outDir: o.out, resume: !!o.resume, progress: o.progress, logEvery: o.logEvery, runCard, dist, saveEvery: o.saveEvery,
  });
  teacher.dispose();
  if (summary.interrupted) process.exit(130);
  return summary;
}

function parseLayers(v: string): Record<string, { wBits?: number; aBits?: number }> {
  let parsed: unknown;
  try { parsed = JSON.parse(v); } catch { throw new InvalidArgumentError(`--layers must be JSON like {"layer1.0.conv1":{"wBits":4}}, got '${v}'`); }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('--layers must be a JSON object of {module path: {wBits?, aBits?}}');
  for (const [k, b] of Object.entries(parsed as Record<string, unknown>)) {
    const bits = b as Record<string, unknown> | null;
    if (!bits || typeof bits !== 'object' || Object.keys(bits).some((x) => x !== 'wBits' && x !== 'aBits') || Object.values(bits).some((x) => typeof x !== 'number' || !(x > 0))) {
      throw new InvalidArgumentError(`--layers: '${k}' needs {wBits?: number > 0, aBits?: number > 0}`);
    }
  }
  return parsed as Record<string, { wBits?: number; aBits?: number }>;
}

export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .description('GDNSQ quantization-aware fine-tuning of an FP checkpoint')
    .option('--teacher <file>', 'the FP checkpoint (.safetensors written by gdnsq train or import)')
    .option('--dataset <name>', `dataset (default: the teacher's; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--wbits <n>', 'target weight bits (32: FP)', num('--wbits', 1), 2)
    .option('--abits <n>', 'target activation bits (32: FP)', num('--abits', 1), 2)
    .option('--avg-wbits <n>', 'budget: parameter-weighted mean weight bits instead of --wbits per layer (each layer ≤ 8)', num('--avg-wbits', 1))
    .option('--avg-abits <n>', 'budget: element-weighted mean activation bits instead of --abits per layer (each layer ≤ 8)', num('--avg-abits', 1))
    .option('--epochs <n>', 'epochs (the budget the descent is planned for)', int('--epochs', 1), 20)
    .option('--time-budget <min>', 'wall-clock budget in minutes: caps the epochs from a timed probe', num('--time-budget', 0))
    .option('--schedule <s>', 'planned: budget-planned descent; kappa: the reference t += lr·κ per step', oneOf('--schedule', DESCENT_SCHEDULES), 'planned')
    .option('--descent <f>', 'planned: fraction of the run by whose end the targets are reached', num('--descent', 0), 0.4)
    .option('--descent-shape <s>', DESCENT_SHAPES.join('|'), oneOf('--descent-shape', DESCENT_SHAPES), 'ease-out')
    .option('--hold-drop <f>', 'planned: hold the plan while the fast running training accuracy is this far below the slow one (a collapse)', num('--hold-drop', 0), 0.1)
    .option('--stagger <f>', 'planned: share of the descent by which the first layer reaches its target before the last (0: all at once)', num('--stagger', 0), 0.3)
    .option('--method <m>', `weight quantizers: ${QUANT_METHODS.join('|')}`, oneOf('--method', QUANT_METHODS), 'noise')
    .option('--act-method <m>', 'activation quantizers (the reference: noise)', oneOf('--act-method', QUANT_METHODS), 'noise')
    .option('--loss <l>', DISTILL_LOSSES.join('|'), oneOf('--loss', DISTILL_LOSSES), 'skl')
    .option('--out <dir>', 'output folder')
    .option('--resume <dir>', 'continue the run in this folder (its settings are reused)')
    .option('--batch-size <n>', 'batch size per rank (default 128, or the largest of 64, 32, 16, 8 whose plan has the steps the descent needs)', int('--batch-size', 1))
    .option('--lr <x>', 'learning rate of the weights', num('--lr', 0), 1e-3)
    .option('--qlr <x>', 'constant learning rate of the quantizer parameters (default: kappa 0.01; planned: per layer, following its planned rate)', num('--qlr', 0))
    .option('--kappa <x>', 'schedule kappa: t += lr·kappa per step', num('--kappa', 0), 2)
    .option('--warmup-steps <n>', 'LR warm-up steps, no penalty (default 5% of the run)', int('--warmup-steps'))
    .option('--anneal <a>', `LR annealing (${ANNEAL_MODES.join('|')}; default cosine over the recovery for planned, exp for kappa)`, oneOf('--anneal', ANNEAL_MODES))
    .option('--lr-decay-per-epoch <x>', 'anneal exp: LR factor per converged epoch (0.93 = the reference 0.9985/step at 50 steps/epoch)', num('--lr-decay-per-epoch', 0), 0.93)
    .option('--start-bits <n>', 'bit-width every quantizer starts at', num('--start-bits', 1), 10)
    .option('--act-init <i>', `activation steps: minmax spans the calibrated range; lsq: 2·mean|x − b|/√(2^B − 1) (for a start at 1–2 bits)`, oneOf('--act-init', ACT_INITS), 'minmax')
    .option('--calib-batches <n>', 'calibration batches', int('--calib-batches', 1), 4)
    .option('--bn <mode>', BN_MODES.join('|'), oneOf('--bn', BN_MODES), 'keep')
    .option('--per-tensor', 'one weight step per tensor instead of per output channel')
    .option('--quantize-first', 'quantize the first conv too')
    .option('--quantize-last', 'quantize the last linear too')
    .option('--quantize-shortcuts', 'quantize the 1x1 shortcut convs too')
    .option('--quantize-bias', 'quantize biases')
    .option('--detach-weight-range', 'B_w without gradient to the extreme weights (the reference passes it)')
    .option('--learn-lower', 'learn every activation lower bound, also after ReLU (the reference; the default)')
    .option('--no-learn-lower', 'keep the lower bound of non-negative activations (after ReLU) fixed at 0')
    .option('--layers <json>', 'per-layer targets, e.g. \'{"layer1.0.conv1":{"wBits":4,"aBits":4}}\'', parseLayers)
    .option('--exclude <names>', 'comma-separated module paths kept FP', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--patience <n>', 'early stop after n epochs without improvement, counted from the first converged epoch', int('--patience', 1))
    .option('--val-size <n>', 'validation images from the end of the training set (default 10%, at most 5000)', int('--val-size'))
    .option('--train-limit <n>', 'use only the first n training images (quick runs)', int('--train-limit', 1))
    .option('--crop-padding <n>', 'random-crop padding (0: off)', int('--crop-padding'), 2)
    .option('--hflip', 'random horizontal flips (default: on for fashion-mnist and cifar, off for mnist and idx)')
    .option('--no-hflip', 'no random horizontal flips')
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--threads <n>', 'intra-op threads', int('--threads', 1))
    .option('--log-every <n>', 'steps between metrics records', int('--log-every', 1), 50)
    .option('--no-progress', 'no progress output');
  addDistOptions(cmd)
    .action(async (o: QuantizeCliOptions & DistCliOptions) => {
      if (!o.resume && (!o.teacher || !o.out)) throw new Error('quantize needs --teacher FILE and --out DIR (or --resume DIR)');
      // The budget names the bits the run is about (its labels, plan and logs).
      if (o.avgWbits !== undefined) o.wbits = o.avgWbits;
      if (o.avgAbits !== undefined) o.abits = o.avgAbits;
      if ((o.nproc ?? 1) > 1 || (o.nnodes ?? 1) > 1) {
        o.nprocTotal = (o.nproc ?? 1) * (o.nnodes ?? 1);
        preflight(o);
      }
      const code = await launchIfAsked(o);
      if (code !== null) {
        if (code !== 0) process.exit(code);
        return;
      }
      const dist = joinRun(o);
      let s: FinetuneSummary;
      try {
        s = await runQuantize(o, dist);
      } finally {
        dist?.group.destroy();
      }
      if (dist && !dist.isMain) return;
      console.log(JSON.stringify({ fp_top1: s.fp_top1, quant_top1: s.quant_top1, converged: s.converged, wbits_max: s.wbits_max, abits_max: s.abits_max,
        planned_step: s.planned_step, reached_step: s.reached_step, holds: s.holds, wall_seconds: s.wall_seconds,
        wbits_mean: s.mean_bits.w, abits_mean: s.mean_bits.a }));
    });
}
