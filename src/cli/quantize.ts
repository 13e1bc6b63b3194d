// `gdnsq quantize`: GDNSQ fine-tuning of a trained FP checkpoint to target bit-widths.
import { Command, InvalidArgumentError } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { setNumThreads, manualSeed, getNumThreads, scope } from '../engine';
import { DATASET_NAMES, DatasetName, loadDataset, splitTrainVal, slice, BatchLoader } from '../data';
import { RAdam } from '../optim';
import {
  quantize, calibrate, quantizerBits, bitsSummary, resetObservedCodes, GdnsqObjective, GdnsqLrSchedule,
  noiseAwareMetric, QuantizeOptions, QUANT_METHODS, QuantMethod, DISTILL_LOSSES, DistillLoss, BN_MODES, BnMode, QuantizerBits,
} from '../quant';
import { Trainer, evaluate, ModelCard, MetricsLog, loadTrainingCard } from '../train';
import { buildModel, loadModel } from './model-file';
import { int, num, oneOf } from './options';

export interface QuantizeCliOptions {
  teacher: string; dataset?: DatasetName; dataDir?: string; wbits: number; abits: number; epochs: number;
  method: QuantMethod; loss: DistillLoss; out: string; resume?: string; batchSize: number; lr: number; qlr: number;
  kappa: number; warmupSteps: number; startBits: number; calibBatches: number; bn: BnMode; perTensor?: boolean;
  quantizeFirst?: boolean; quantizeLast?: boolean; quantizeShortcuts?: boolean; quantizeBias?: boolean;
  patience?: number; valSize: number; trainLimit?: number; seed: number; threads?: number; progress: boolean;
  logEvery: number; cropPadding: number; hflip: boolean; layers?: Record<string, { wBits?: number; aBits?: number }>; exclude?: string[];
}

function layerBits(entries: QuantizerBits[]): Record<string, { target: number; bits: number; true: number }> {
  const out: Record<string, { target: number; bits: number; true: number }> = {};
  for (const e of entries) out[e.name] = { target: e.target, bits: +e.bits.toFixed(4), true: +e.trueBits.toFixed(4) };
  return out;
}

/** The settings of the run saved in DIR. */
function savedRun(dir: string): QuantizeCliOptions {
  const run = loadTrainingCard(path.join(dir, 'resume.safetensors')).run as QuantizeCliOptions | undefined;
  if (!run || typeof run.teacher !== 'string') throw new Error(`${dir}: not a gdnsq quantize run (no run settings in resume.safetensors)`);
  return run;
}

export async function runQuantize(cli: QuantizeCliOptions): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  // On --resume every setting comes from the run being resumed.
  const o: QuantizeCliOptions = cli.resume ? { ...savedRun(cli.resume), resume: cli.resume, out: cli.resume, threads: cli.threads, progress: cli.progress } : cli;
  if (o.threads) setNumThreads(o.threads);
  manualSeed(o.seed);
  const { model: teacher, card: tcard } = loadModel(o.teacher);
  if (tcard.quant) throw new Error(`${o.teacher} is already quantized: give the FP teacher checkpoint`);
  teacher.eval();
  const dataset = o.dataset ?? (tcard.dataset as DatasetName);
  const data = loadDataset(dataset, { dataDir: o.dataDir });
  const split = splitTrainVal(data.train, o.valSize, { seed: o.seed, mode: 'tail' });
  const train = o.trainLimit ? slice(split.train, 0, Math.min(o.trainLimit, split.train.n)) : split.train;
  const normalize = tcard.normalize;

  const qopts: QuantizeOptions = {
    wBits: o.wbits, aBits: o.abits, method: o.method, bn: o.bn, perChannel: !o.perTensor, startBits: o.startBits,
    quantizeFirst: !!o.quantizeFirst, quantizeLast: !!o.quantizeLast, quantizeShortcuts: !!o.quantizeShortcuts, quantizeBias: !!o.quantizeBias,
    ...(o.layers ? { layers: o.layers } : {}), ...(o.exclude ? { exclude: o.exclude } : {}),
  };
  const card: ModelCard = { ...tcard, quant: { options: qopts }, teacher: path.resolve(o.teacher), run: { ...o, teacher: path.resolve(o.teacher), resume: undefined } };
  const student = buildModel({ ...tcard });
  student.loadStateDict(teacher.stateDict(), { strict: true });
  const report = quantize(student, qopts);
  const trainLoader = new BatchLoader({ dataset: train, batchSize: o.batchSize, shuffle: true, seed: o.seed, normalize, augment: { cropPadding: o.cropPadding, hflip: o.hflip } });
  const valLoader = split.val.n > 0 ? new BatchLoader({ dataset: split.val, batchSize: 500, normalize }) : undefined;
  const testLoader = new BatchLoader({ dataset: data.test, batchSize: 500, normalize });
  if (!o.resume) {
    if (fs.existsSync(path.join(o.out, 'resume.safetensors'))) throw new Error(`${o.out} already holds a run: pass --resume ${o.out} to continue it, or choose another --out`);
    process.stderr.write(`${report.toString()}\n`);
    const calibLoader = new BatchLoader({ dataset: train, batchSize: o.batchSize, shuffle: true, seed: o.seed + 1, normalize });
    const rep = scope(() => calibrate(student, calibLoader.epoch(0), { startBits: o.startBits, maxBatches: o.calibBatches }));
    process.stderr.write(`calibrated on ${rep.batches} batches: every quantizer starts at ~${o.startBits} bits\n`);
  }
  const fpTest = evaluate(teacher, testLoader.epoch(0));
  process.stderr.write(`FP teacher: test top-1 ${(100 * fpTest.top1).toFixed(2)}%\n`);

  const named = student.namedParameters();
  const qparams = named.filter(([n]) => n.includes('_quant.')).map(([, p]) => p);
  const wparams = named.filter(([n]) => !n.includes('_quant.')).map(([, p]) => p);
  const optimizer = new RAdam([{ params: wparams, lr: o.lr }, { params: qparams, lr: o.qlr }], { lr: o.lr });
  const objective = new GdnsqObjective({ student, teacher, loss: o.loss, lr: o.lr, kappa: o.kappa, warmupSteps: o.warmupSteps });
  const lrs = new GdnsqLrSchedule({ warmupSteps: o.warmupSteps });
  const log = new MetricsLog(path.join(o.out, 'metrics.jsonl'));
  let converged = false;
  let shown: Record<string, string> = {};
  const trainer = new Trainer({
    model: student, optimizer, train: trainLoader, val: valLoader,
    epochs: o.epochs, outDir: o.out, card, seed: o.seed, patience: o.patience, progress: o.progress, title: `W${o.wbits}A${o.abits}`,
    hooks: {
      loss: (b) => objective.loss(b),
      lrFactor: (s) => lrs.factor(s),
      afterStep: (s) => {
        const v = objective.afterStep(s);
        if (s % o.logEvery === 0 || s === 1) {
          const bits = quantizerBits(student);
          const sum = bitsSummary(bits);
          // True bits as mean/max over quantizers (activations: grid capacity while training).
          shown = { 'W bits': `${sum.weights.trueMean.toFixed(2)}/${sum.weights.trueMax.toFixed(2)}`, 'A bits': `${sum.activations.trueMean.toFixed(2)}/${sum.activations.trueMax.toFixed(2)}` };
          log.write({ kind: 'step', step: s, loss: v.task, t: v.t, pw: v.pw, pa: v.pa, lr: optimizer.paramGroups[0].lr,
            w_true_mean: sum.weights.trueMean, w_true_max: sum.weights.trueMax, a_bits_mean: sum.activations.mean, a_bits_max: sum.activations.max, layers: layerBits(bits) });
        }
        return { t: v.t, ...shown };
      },
      afterEpoch: (sm) => {
        const bits = quantizerBits(student);
        const sum = bitsSummary(bits);
        converged = sum.converged;
        if (converged) lrs.markConverged(sm.step);
        resetObservedCodes(student);
        return { record: { kind: 'epoch', converged, w_true_max: sum.weights.trueMax, a_true_max: sum.activations.trueMax, w_true_mean: sum.weights.trueMean, a_true_mean: sum.activations.trueMean, t: objective.t, layers: layerBits(bits) } };
      },
      metric: (sm) => noiseAwareMetric(sm.val?.top1 ?? sm.train.top1, converged),
      state: () => ({ objective: objective.state(), lr: lrs.state(), converged }),
      loadState: (s) => {
        const st = s as { objective: unknown; lr: unknown; converged: boolean };
        objective.loadState(st.objective);
        lrs.loadState(st.lr);
        converged = st.converged;
      },
    },
  });
  if (o.resume) trainer.resume();
  process.stderr.write(`GDNSQ W${o.wbits}A${o.abits} (${o.method}, ${o.loss}) on ${dataset}: ${train.n} train images, ${getNumThreads()} threads\n`);
  const res = await trainer.fit();
  if (res.interrupted) process.exit(130);

  // The checkpoint of record: the best noise-aware one if any epoch converged, else the last.
  const chosen = res.best > 0 ? trainer.bestPath : trainer.lastPath;
  const { model: final } = loadModel(chosen);
  resetObservedCodes(final);
  const test = evaluate(final, testLoader.epoch(0));
  const bits = quantizerBits(final);
  const sum = bitsSummary(bits);
  const summary = {
    model: tcard.model, teacher: path.resolve(o.teacher), dataset, wbits: o.wbits, abits: o.abits, method: o.method, loss: o.loss,
    fp_top1: fpTest.top1, quant_top1: test.top1, delta_pt: 100 * (test.top1 - fpTest.top1), converged: sum.converged,
    wbits_max: sum.weights.trueMax, abits_max: sum.activations.trueMax, checkpoint: path.resolve(chosen),
    epochs_run: res.state.epoch, steps: res.state.step, wall_seconds: (Date.now() - t0) / 1000,
    settings: { ...qopts, lr: o.lr, qlr: o.qlr, kappa: o.kappa, warmupSteps: o.warmupSteps, batchSize: o.batchSize },
    fp_layers: report.fp, layers: layerBits(bits),
  };
  fs.writeFileSync(path.join(o.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
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
  program
    .command('quantize')
    .description('GDNSQ quantization-aware fine-tuning of an FP checkpoint')
    .option('--teacher <file>', 'the FP checkpoint (.safetensors written by gdnsq train)')
    .option('--dataset <name>', `dataset (default: the teacher's; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--wbits <n>', 'target weight bits (32: FP)', num('--wbits', 1), 2)
    .option('--abits <n>', 'target activation bits (32: FP)', num('--abits', 1), 2)
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 20)
    .option('--method <m>', QUANT_METHODS.join('|'), oneOf('--method', QUANT_METHODS), 'noise')
    .option('--loss <l>', DISTILL_LOSSES.join('|'), oneOf('--loss', DISTILL_LOSSES), 'skl')
    .option('--out <dir>', 'output folder')
    .option('--resume <dir>', 'continue the run in this folder (its settings are reused)')
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 128)
    .option('--lr <x>', 'learning rate of the weights', num('--lr', 0), 1e-3)
    .option('--qlr <x>', 'learning rate of the quantizer parameters', num('--qlr', 0), 1e-2)
    .option('--kappa <x>', 'temperature growth: t += lr·kappa per step', num('--kappa', 0), 2)
    .option('--warmup-steps <n>', 'LR warm-up steps (t starts growing after them)', int('--warmup-steps'), 300)
    .option('--start-bits <n>', 'bit-width every quantizer starts at', num('--start-bits', 1), 10)
    .option('--calib-batches <n>', 'calibration batches', int('--calib-batches', 1), 4)
    .option('--bn <mode>', BN_MODES.join('|'), oneOf('--bn', BN_MODES), 'keep')
    .option('--per-tensor', 'one weight step per tensor instead of per output channel')
    .option('--quantize-first', 'quantize the first conv too')
    .option('--quantize-last', 'quantize the last linear too')
    .option('--quantize-shortcuts', 'quantize the 1x1 shortcut convs too')
    .option('--quantize-bias', 'quantize biases')
    .option('--layers <json>', 'per-layer targets, e.g. \'{"layer1.0.conv1":{"wBits":4,"aBits":4}}\'', parseLayers)
    .option('--exclude <names>', 'comma-separated module paths kept FP', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--patience <n>', 'early stop after n epochs without improvement', int('--patience', 1))
    .option('--val-size <n>', 'validation images from the end of the training set', int('--val-size'), 5000)
    .option('--train-limit <n>', 'use only the first n training images (quick runs)', int('--train-limit', 1))
    .option('--crop-padding <n>', 'random-crop padding (0: off)', int('--crop-padding'), 2)
    .option('--no-hflip', 'no random horizontal flip')
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--threads <n>', 'intra-op threads', int('--threads', 1))
    .option('--log-every <n>', 'steps between metrics records', int('--log-every', 1), 50)
    .option('--no-progress', 'no progress output')
    .action(async (o: QuantizeCliOptions) => {
      if (!o.resume && (!o.teacher || !o.out)) throw new Error('quantize needs --teacher FILE and --out DIR (or --resume DIR)');
      const s = await runQuantize(o);
      console.log(JSON.stringify({ fp_top1: s.fp_top1, quant_top1: s.quant_top1, converged: s.converged, wbits_max: s.wbits_max, abits_max: s.abits_max, wall_seconds: s.wall_seconds }));
    });
}
