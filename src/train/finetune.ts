// The GDNSQ fine-tuning recipe as one library call (GDNSQ.md §4): quantize a copy of the FP
// teacher, calibrate, plan the descent for the budget, fine-tune with the exterior-point
// objective, select on the noise-aware metric, evaluate the selected checkpoint on the test
// split once. The CLI's `gdnsq quantize` only parses arguments into these options and prints.
import * as fs from 'fs';
import * as path from 'path';
import { getNumThreads, scope } from '../engine';
import { ImageDataset, BatchLoader, Augment } from '../data';
import { Model } from '../models';
import { RAdam } from '../optim';
import {
  quantize, calibrate, quantizerBits, bitsSummary, resetObservedCodes, GdnsqObjective, GdnsqLrSchedule, noiseAwareMetric,
  QuantizeOptions, QuantizeReport, DistillLoss, AnnealMode, DescentPlan, DescentShape, describePlan,
  DescentController, QuantizerBits, QuantizerRole, activationElements, ActInit, projectQuantizers, quantizedLayers,
} from '../quant';
import { BATCH_CHOICES, DescentBudget, QLR_MAX, QUANT_BETAS, catchUpSteps, chooseBatchSize, feasiblePlan, plannedQuantizerLr, quantizerLrAt } from './descent-budget';
import { MeanBits, budgetRun } from './mean-bits';
import { ModelCard } from './checkpoint';
import { evaluate, topkCorrect } from './evaluate';
import { buildModel, loadModel } from './model-file';
import { FileRef, round } from './provenance';
import { Trainer } from './trainer';
import { MetricsLog } from './metrics-log';
import { probeEpochs } from './budget';
import { DataParallel, ShardedLoader } from '../distributed';

export type DescentSchedule = 'planned' | 'kappa';
export const DESCENT_SCHEDULES: readonly DescentSchedule[] = ['planned', 'kappa'];

export interface FinetuneOptions {
  /** The trained FP model (left untouched) and its card. */
  teacher: Model;
  teacherCard: ModelCard;
  /** The teacher's file name and SHA-256, recorded in cards and summaries. */
  teacherRef?: FileRef;
  train: ImageDataset;
  val?: ImageDataset;
  test?: ImageDataset;
  /** Targets and the rest of quantize()'s options (method, bn, exclusions, …). */
  quantize: QuantizeOptions;
  epochs: number;
  /** Wall-clock budget in minutes: caps the epochs from a timed probe of the step. */
  timeBudgetMin?: number;
  /** 'planned' (default): budget-planned descent; 'kappa': the reference's t += lr·κ per step. */
  schedule?: DescentSchedule;
  /** Planned: fraction of the run by whose end the targets are reached (default 0.4). */
  descent?: number;
  shape?: DescentShape;
  /** Default: 5% of the run. */
  warmupSteps?: number;
  /** Planned: the gap between the slow and the fast running training accuracy that holds the plan (default 0.1). */
  holdDrop?: number;
  /** Planned: share of the descent by which the first layer reaches its target before the last (default 0.3). */
  stagger?: number;
  lr?: number;
  /** Quantizer-parameter LR; default 1e-2 (kappa) or what the plan needs (plannedQuantizerLr). */
  qlr?: number;
  kappa?: number;
  /** Default 'cosine' over the recovery (planned), 'exp' (kappa). */
  anneal?: AnnealMode;
  decayPerEpoch?: number;
  loss?: DistillLoss;
  patience?: number;
  batchSize?: number;
  startBits?: number;
  /** How activation steps start (calibrate()'s actInit; default 'minmax'). */
  actInit?: ActInit;
  calibBatches?: number;
  augment?: Augment;
  seed?: number;
  outDir: string;
  /** Continue the run saved in outDir. */
  resume?: boolean;
  progress?: boolean;
  logEvery?: number;
  /** Extra settings stored in the checkpoints' card under `run` (the CLI keeps its arguments there for --resume). */
  runCard?: Record<string, unknown>;
  /** Lines worth showing (plan, calibration, FP accuracy); default: standard error. */
  onMessage?(line: string): void;
  /** Data-parallel run (batchSize is per rank; rank 0 alone writes and reports). */
  dist?: DataParallel | null;
  /** Save the resume state every this many steps too. */
  saveEvery?: number;
}

export interface FinetuneSummary {
  model: string; teacher: FileRef | null; dataset: string; wbits: number; abits: number; method: string; loss: string;
  schedule: DescentSchedule; plan: DescentPlan | null; planned_step: number | null; reached_step: number | null;
  holds: number; held_steps: number; anneal_from: number | null; fp_top1: number | null; quant_top1: number | null; delta_pt: number | null;
  converged: boolean; wbits_max: number; abits_max: number;
  /** The narrowest channel / activation quantizer in true bits (a 0 is a constant output). */
  wbits_min: number; abits_min: number; checkpoint: string; epochs: number; epochs_run: number;
  steps: number; wall_seconds: number; interrupted: boolean; settings: Record<string, unknown>;
  fp_layers: QuantizeReport['fp']; layers: LayerBits;
  /** Size-weighted mean integer bits of the checkpoint (weights by parameters, activations by elements per sample), and the budget if one was set. */
  mean_bits: MeanBits;
}

export type LayerBits = Record<string, { target: number; bits: number; true: number; max?: number; true_min?: number }>;

export function layerBits(entries: QuantizerBits[]): LayerBits {
  const out: LayerBits = {};
  // max: the widest channel's differentiable bits (per-channel weights), what the penalty sees
  // first; true_min: the narrowest channel's true bits (0: a channel with a constant output).
  for (const e of entries) {
    out[e.name] = {
      target: e.target, bits: round(e.bits, 3), true: round(e.trueBits, 3), ...(e.bitsMax !== e.bits ? { max: round(e.bitsMax, 3) } : {}),
      ...(e.trueMin !== e.trueBits ? { true_min: round(e.trueMin, 3) } : {}),
    };
  }
  return out;
}

interface HookState { objective: unknown; lr: unknown; controller: unknown; converged: boolean; everConverged: boolean; reachedStep: number | null; budget?: unknown }

// How often (steps) the true bit-widths are checked for the step the target is first reached.
const REACH_CHECK_EVERY = 10;

type Say = (line: string) => void;
type Loader = BatchLoader | ShardedLoader;

/** Phase 1: a quantized copy of the teacher (quantize() wraps its layers) and its lowest target. */
function prepareStudent(o: FinetuneOptions, startBits: number): { student: Model; report: QuantizeReport; qopts: QuantizeOptions; minTarget: number } {
  o.teacher.eval();
  const qopts: QuantizeOptions = { startBits, ...o.quantize };
  const student = buildModel({ ...o.teacherCard, quant: undefined });
  student.loadStateDict(o.teacher.stateDict(), { strict: true });
  const report = quantize(student, qopts);
  const targets = quantizerBits(student).filter((e) => !e.pruned).map((e) => e.target);
  const budget = qopts.budget ? [qopts.budget.wBits, qopts.budget.aBits].filter((x): x is number => x !== undefined) : [];
  return { student, report, qopts, minTarget: Math.min(...targets, ...budget, startBits) };
}

/** The planned descent's budget for these options (chooseBatchSize, feasiblePlan). */
export function descentBudget(o: Pick<FinetuneOptions, 'epochs' | 'descent' | 'shape' | 'warmupSteps' | 'stagger'>, trainImages: number, ranks: number, startBits: number, minTarget: number): DescentBudget {
  return { trainImages, ranks, epochs: o.epochs, startBits, minTarget, descent: o.descent, shape: o.shape, stagger: o.stagger, warmupSteps: o.warmupSteps };
}

/** Phase 2: the batch (the user's, or the largest whose plan works), the loaders. */
function loaders(o: FinetuneOptions, schedule: DescentSchedule, startBits: number, minTarget: number, say: Say): { batchSize: number; train: Loader; val?: BatchLoader } {
  const dist = o.dist ?? null, ranks = dist?.worldSize ?? 1, normalize = o.teacherCard.normalize, seed = o.seed ?? 0;
  let batchSize = o.batchSize ?? BATCH_CHOICES[0];
  if (schedule === 'planned' && o.timeBudgetMin === undefined) {
    const choice = chooseBatchSize(descentBudget(o, o.train.n, ranks, startBits, minTarget), o.batchSize);
    batchSize = choice.batchSize;
    if (choice.note) say(choice.note);
  }
  // Data-parallel: each rank takes its shard of the global batch (batchSize × ranks).
  const shard = (l: BatchLoader): Loader => (dist ? new ShardedLoader(l, dist.rank, dist.worldSize) : l);
  const train = shard(new BatchLoader({ dataset: o.train, batchSize: batchSize * ranks, shuffle: true, seed, normalize, augment: o.augment }));
  const val = o.val && o.val.n > 0 ? new BatchLoader({ dataset: o.val, batchSize: 500, normalize }) : undefined;
  return { batchSize, train, val };
}

/** Phase 3: every quantizer's grid from the FP network's ranges (a fresh run only). */
function calibratePhase(o: FinetuneOptions, student: Model, batchSize: number, startBits: number, say: Say): void {
  const dist = o.dist ?? null, ranks = dist?.worldSize ?? 1;
  const l = new BatchLoader({ dataset: o.train, batchSize: batchSize * ranks, shuffle: true, seed: (o.seed ?? 0) + 1, normalize: o.teacherCard.normalize });
  const calibLoader = dist ? new ShardedLoader(l, dist.rank, dist.worldSize) : l;
  const agreeRanges = dist ? (r: { min: number; max: number }[]) => dist.agreeRanges(r) : undefined;
  const rep = scope(() => calibrate(student, calibLoader.epoch(0), { startBits, maxBatches: o.calibBatches ?? 4, agreeRanges, actInit: o.actInit }));
  say(`calibrated on ${rep.batches} batches: every quantizer starts at ~${startBits} bits`);
}

interface Plan {
  epochs: number; totalSteps: number; warmupSteps: number; plan: DescentPlan | null; controller: DescentController | null;
  /** The quantizer groups' base LR, and quantized layer k's LR at a step (null: constant). */
  qlr: number; qlrAt: ((step: number, layer: number) => number) | null;
}

/** Phase 4: epochs (a time budget caps them), the descent plan and its controller, the quantizer LR. */
function planPhase(o: FinetuneOptions, x: { student: Model; objective: GdnsqObjective; train: Loader; batchSize: number; startBits: number; minTarget: number; schedule: DescentSchedule; lr: number; say: Say }): Plan {
  const { train, startBits, minTarget, schedule, lr, say } = x;
  const dist = o.dist ?? null;
  const stepsPerEpoch = train.batchesPerEpoch;
  let epochs = o.epochs;
  if (o.timeBudgetMin !== undefined && !o.resume) {
    const probe = probeEpochs({ student: x.student, objective: x.objective, loader: train, batchSize: x.batchSize, valImages: o.val?.n ?? 0, budgetMin: o.timeBudgetMin });
    // A timing differs between ranks: rank 0's budget holds for all.
    epochs = Math.min(epochs, dist ? dist.broadcastJson(probe.epochs) : probe.epochs);
    say(`time budget ${o.timeBudgetMin} min: ~${probe.epochSeconds.toFixed(0)} s per epoch measured → ${epochs} epochs`);
  }
  const totalSteps = epochs * stepsPerEpoch;
  const warmupSteps = o.warmupSteps ?? Math.round(0.05 * totalSteps);
  // The κ-schedule's warm-up is the run's (the objective's own default is the reference's 1000 steps).
  x.objective.warmupSteps = warmupSteps;
  const targetText = `W${o.quantize.wBits}A${o.quantize.aBits}${o.quantize.layers ? ' (+ per-layer targets)' : ''}`;
  if (schedule !== 'planned') {
    say(`schedule kappa: t += lr·κ = ${lr * (o.kappa ?? 2)} per step after ${warmupSteps} warm-up steps (${totalSteps} steps, ${epochs} epochs)`);
    return { epochs, totalSteps, warmupSteps, plan: null, controller: null, qlr: o.qlr ?? 1e-2, qlrAt: null };
  }
  const plan = feasiblePlan(descentBudget({ ...o, epochs }, o.train.n, dist?.worldSize ?? 1, startBits, minTarget), x.batchSize);
  const controller = new DescentController({ plan, holdDrop: o.holdDrop });
  x.objective.targetOf = (t, layer, layers) => controller.planned(t, layer, layers);
  say(describePlan(plan, stepsPerEpoch, targetText));
  if (o.qlr !== undefined) return { epochs, totalSteps, warmupSteps, plan, controller, qlr: o.qlr, qlrAt: null };
  const layers = quantizedLayers(x.student).length;
  const qlr = Math.min(QLR_MAX, plannedQuantizerLr(plan, startBits, minTarget));
  // Follows each layer's planned rate (descent-budget.ts); the weights' LR once its descent is over.
  const catchUp = catchUpSteps(plan);
  const qlrAt = (step: number, layer: number): number => quantizerLrAt(step, controller.plannedRate(minTarget, layer, layers), lr, x.objective.measured.layerLags[layer] ?? 0, catchUp);
  say(`quantizer LR: up to ${qlr.toPrecision(2)}, each layer's following its planned rate down to ${lr} (the weights' LR) as it reaches its target`);
  return { epochs, totalSteps, warmupSteps, plan, controller, qlr, qlrAt };
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneSummary> {
  const t0 = Date.now();
  const dist = o.dist ?? null;
  const main = !dist || dist.isMain;
  const say: Say = !main ? () => {} : o.onMessage ?? ((l: string) => process.stderr.write(`${l}\n`));
  const schedule = o.schedule ?? 'planned';
  const seed = o.seed ?? 0, lr = o.lr ?? 1e-3, startBits = o.startBits ?? 10;
  const logEvery = o.logEvery ?? 50;
  const normalize = o.teacherCard.normalize;

  const { student, report, qopts, minTarget } = prepareStudent(o, startBits);
  const { batchSize, train: trainLoader, val: valLoader } = loaders(o, schedule, startBits, minTarget, say);
  const stepsPerEpoch = trainLoader.batchesPerEpoch;
  if (!o.resume) {
    if (fs.existsSync(path.join(o.outDir, 'resume.safetensors'))) throw new Error(`${o.outDir} already holds a run: resume it, or choose another output folder`);
    say(report.toString());
    calibratePhase(o, student, batchSize, startBits, say);
  }

  // Param groups: the weights, then each quantized layer's quantizer parameters (their LRs follow
  // the layers' own plans), in network order.
  const named = student.namedParameters();
  const wparams = named.filter(([n]) => !n.includes('_quant.')).map(([, p]) => p);
  const qgroups = quantizedLayers(student).map(([layer]) => named.filter(([n]) => n.startsWith(`${layer}.`) && n.includes('_quant.')).map(([, p]) => p));
  const objective = new GdnsqObjective({ student, teacher: o.teacher, loss: o.loss ?? 'skl', lr, kappa: o.kappa ?? 2, growth: schedule === 'kappa' ? 'kappa' : 'external',
    reduceTask: dist ? (v, rows) => dist.weightedMean([v], rows)[0] : undefined });
  // Sizes of the quantizers (activations: elements per sample of one batch) for the mean bits and a budget.
  const mb = budgetRun(student, scope(() => activationElements(student, trainLoader.batch(0, 0).x)), qopts.budget, objective);
  const { epochs, totalSteps, warmupSteps, plan, controller, qlr, qlrAt } = planPhase(o, { student, objective, train: trainLoader, batchSize, startBits, minTarget, schedule, lr, say });

  const optimizer = new RAdam([{ params: wparams, lr }, ...qgroups.filter((g) => g.length).map((params) => ({ params, lr: qlr, betas: QUANT_BETAS }))], { lr });
  const groupLayer = qgroups.map((g, k) => (g.length ? k : -1)).filter((k) => k >= 0);
  const anneal = o.anneal ?? (schedule === 'planned' ? 'cosine' : 'exp');
  const lrs = new GdnsqLrSchedule({
    warmupSteps, anneal, decayPerEpoch: o.decayPerEpoch, stepsPerEpoch,
    annealStart: plan ? plan.descentEnd : 0, totalSteps: Math.max(totalSteps, 1), waitForTargets: !!plan,
  });
  const settings = {
    schedule, epochs, batchSize, lr, qlr: round(qlr, 6), qlrSchedule: qlrAt ? 'plan-rate' : 'constant', qbetas: QUANT_BETAS, kappa: o.kappa ?? 2, warmupSteps, anneal, decayPerEpoch: lrs.decayPerEpoch,
    descent: plan ? o.descent ?? 0.4 : undefined, shape: plan?.shape, stagger: plan?.stagger, holdDrop: plan ? o.holdDrop ?? 0.1 : undefined,
    loss: objective.lossName, patience: o.patience, seed, augment: o.augment ?? {}, quantize: qopts, actInit: o.actInit ?? 'minmax',
  };
  const card: ModelCard = {
    ...o.teacherCard, quant: { options: qopts, act_elements: mb.actElements }, teacher: o.teacherRef ?? null, finetune: settings,
    ...(o.runCard ? { run: { ...o.runCard, epochs, batchSize, timeBudget: undefined } } : {}),
  };
  // A size budget lets its layers go below the nominal target, never below one bit.
  const floorTarget = (role: QuantizerRole, target: number): number => (qopts.budget && (role === 'act' ? qopts.budget.aBits : qopts.budget.wBits) !== undefined ? 1 : target);

  // Phase 5: the fine-tuning, steered by the hooks.
  const log = main ? new MetricsLog(path.join(o.outDir, 'metrics.jsonl')) : { write: () => {} };
  const st: HookState = { objective: null, lr: null, controller: null, converged: false, everConverged: false, reachedStep: null };
  let shown: Record<string, string> = {};
  let lastAcc = 0;
  const planFor = (target: number): number => (controller ? controller.planned(target) : target);
  const targetText = `W${o.quantize.wBits}A${o.quantize.aBits}${o.quantize.layers ? ' (+ per-layer targets)' : ''}`;
  // The annealing waits for the targets after the plan's end, but no longer than half the recovery.
  const annealDeadline = plan ? plan.descentEnd + Math.floor(plan.recoverySteps / 2) : 0;
  const trainer = new Trainer({
    model: student, optimizer, train: trainLoader, val: valLoader, epochs, outDir: o.outDir, card, seed,
    patience: o.patience, progress: o.progress, title: targetText, dist, saveEvery: o.saveEvery,
    // A validation set of a few hundred images cannot tell one image from noise: within 1.5
    // images of the best, the lower validation loss decides (0.03 pt at 5,000 images).
    selectTolerance: valLoader && o.val ? 1.5 / o.val.n : 0,
    hooks: {
      loss: (b) => {
        const r = objective.loss(b);
        lastAcc = topkCorrect(r.logits, b.y, 1) / b.size;
        if (dist) lastAcc = dist.weightedMean([lastAcc], b.size)[0];
        return r;
      },
      // A layer still short of its target keeps its quantizer LR out of the annealing: the cosine is
      // for the weights' recovery, and a quantizer annealed to 0 there could never reach its target.
      lrFactor: (s, group) => {
        if (group < 1 || !qlrAt) return lrs.factor(s);
        const layer = groupLayer[group - 1];
        // Above its plan by more than the plan's 0.05-bit margin: above the convergence threshold.
        const lagging = (objective.measured.layerLags[layer] ?? 0) > 0.05;
        return (lagging ? 1 : lrs.factor(s)) * (qlrAt(s + 1, layer) / qlr);
      },
      afterStep: (s) => {
        projectQuantizers(student, floorTarget);
        const v = objective.afterStep(s);
        if (controller) {
          const m = objective.measured;
          controller.update(s, { lagW: m.lagW, lagA: m.lagA, acc: lastAcc });
          objective.tw = controller.tw;
          objective.ta = controller.ta;
        }
        lrs.afterStep(s);
        const checkReach = s > warmupSteps && s % REACH_CHECK_EVERY === 0 && (st.reachedStep === null || (controller !== null && !lrs.annealing));
        // A budget's penalty target follows the measured cost all through the run.
        const measure = checkReach || (mb.budgetTargets.length > 0 && s > warmupSteps && s % REACH_CHECK_EVERY === 0);
        if (s % logEvery === 0 || s === 1 || measure) {
          const bits = quantizerBits(student);
          const sum = bitsSummary(bits);
          if (s > warmupSteps) mb.track(bits, planFor);
          const met = checkReach && mb.converged(bits, sum);
          if (met && st.reachedStep === null) st.reachedStep = s;
          if (controller && !lrs.annealing && ((met && controller.descentDone) || s >= annealDeadline + controller.held)) lrs.startAnneal(s);
          if (s % logEvery === 0 || s === 1) {
            const wPlan = planFor(o.quantize.wBits), aPlan = planFor(o.quantize.aBits);
            shown = { W: `${sum.weights.trueMax.toFixed(2)}/${wPlan.toFixed(2)}`, A: `${sum.activations.trueMax.toFixed(2)}/${aPlan.toFixed(2)}` };
            if (controller?.holding) shown.hold = 'on';
            log.write({
              kind: 'step', step: s, loss: round(v.task, 5), t: round(objective.t, 5), tw: round(objective.tw, 5), ta: round(objective.ta, 5), pw: round(v.pw, 5), pa: round(v.pa, 5),
              lr: optimizer.paramGroups[0].lr, qlr: optimizer.paramGroups[optimizer.paramGroups.length - 1]?.lr ?? null, acc: round(lastAcc, 4),
              lag_w: round(objective.measured.lagW, 3), lag_a: round(objective.measured.lagA, 3),
              w_plan: round(wPlan, 3), a_plan: round(aPlan, 3), holding: controller?.holding ?? false, clock: controller?.clock ?? s, annealing: lrs.annealing,
              w_true_mean: round(sum.weights.trueMean, 3), w_true_max: round(sum.weights.trueMax, 3), w_true_min: round(sum.weights.trueMin, 3),
              a_bits_mean: round(sum.activations.mean, 3), a_bits_max: round(sum.activations.max, 3),
              a_true_max: round(sum.activations.trueMax, 3), a_true_min: round(sum.activations.trueMin, 3), converged: mb.converged(bits, sum), ...mb.record(bits), layers: layerBits(bits),
            });
          }
        }
        return { ...(controller ? { tw: objective.tw, ta: objective.ta } : { t: objective.t }), ...shown };
      },
      afterEpoch: (sm) => {
        const sum = bitsSummary(mb.allocate(quantizerBits(student)));
        const bits = quantizerBits(student);
        st.converged = mb.converged(bits, sum);
        card.mean_bits = mb.means(bits);
        st.everConverged ||= sum.converged;
        if (st.converged && st.reachedStep === null) st.reachedStep = sm.step;
        lrs.setConverged(sum.converged);
        resetObservedCodes(student);
        return {
          record: {
            kind: 'epoch', converged: st.converged, ...mb.record(bits), w_true_max: round(sum.weights.trueMax, 3), a_true_max: round(sum.activations.trueMax, 3),
            w_true_min: round(sum.weights.trueMin, 3), a_true_min: round(sum.activations.trueMin, 3),
            w_true_mean: round(sum.weights.trueMean, 3), a_true_mean: round(sum.activations.trueMean, 3), t: round(objective.t, 5), tw: round(objective.tw, 5), ta: round(objective.ta, 5),
            holds: controller?.holds ?? 0, held_steps: controller?.held ?? 0, anneal_from: lrs.annealFrom, layers: layerBits(bits),
          },
        };
      },
      metric: (sm) => noiseAwareMetric(sm.val?.top1 ?? sm.train.top1, st.converged),
      patienceActive: () => st.everConverged,
      state: () => ({ ...st, objective: objective.state(), lr: lrs.state(), controller: controller?.state() ?? null, budget: mb.state() }),
      loadState: (s) => {
        const x = s as HookState;
        objective.loadState(x.objective);
        lrs.loadState(x.lr);
        if (controller) {
          controller.loadState(x.controller);
          objective.tw = controller.tw;
          objective.ta = controller.ta;
        }
        mb.loadState(x.budget);
        Object.assign(st, { converged: x.converged, everConverged: !!x.everConverged, reachedStep: x.reachedStep ?? null });
      },
    },
  });
  if (o.resume) trainer.resume();
  const fpTest = o.test && main ? evaluate(o.teacher, new BatchLoader({ dataset: o.test, batchSize: 500, normalize }).epoch(0)) : null;
  if (fpTest) say(`FP teacher: test top-1 ${(100 * fpTest.top1).toFixed(2)}%`);
  say(`GDNSQ ${targetText} (${qopts.method ?? 'noise'}, ${objective.lossName}, schedule ${schedule}): ${o.train.n} train images, batch ${batchSize}, ${getNumThreads()} threads`);
  const res = await trainer.fit();

  // Phase 6: the checkpoint of record (the best noise-aware one if any epoch converged, else
  // the last), evaluated once on the test split; the summary.
  const chosen = res.best > 0 ? trainer.bestPath : trainer.lastPath;
  let test: number | null = null;
  let final = student as Model;
  if (!res.interrupted && main) {
    final = loadModel(chosen).model;
    resetObservedCodes(final);
    if (o.test) test = evaluate(final, new BatchLoader({ dataset: o.test, batchSize: 500, normalize }).epoch(0)).top1;
  }
  const bits = quantizerBits(final);
  const sum = bitsSummary(bits);
  const summary: FinetuneSummary = {
    model: o.teacherCard.model, teacher: o.teacherRef ?? null, dataset: o.teacherCard.dataset, wbits: o.quantize.wBits, abits: o.quantize.aBits,
    method: qopts.method ?? 'noise', loss: objective.lossName, schedule, plan, planned_step: plan?.descentEnd ?? null, reached_step: st.reachedStep,
    holds: controller?.holds ?? 0, held_steps: controller?.held ?? 0, anneal_from: lrs.annealFrom, fp_top1: fpTest ? round(fpTest.top1, 4) : null,
    quant_top1: test === null ? null : round(test, 4), delta_pt: test !== null && fpTest ? round(100 * (test - fpTest.top1), 2) : null,
    converged: mb.converged(bits, sum), wbits_max: round(sum.weights.trueMax, 3), abits_max: round(sum.activations.trueMax, 3),
    wbits_min: round(sum.weights.trueMin, 3), abits_min: round(sum.activations.trueMin, 3),
    checkpoint: path.basename(chosen), epochs, epochs_run: res.state.epoch, steps: res.state.step, wall_seconds: round((Date.now() - t0) / 1000, 1),
    interrupted: res.interrupted, settings, fp_layers: report.fp, layers: layerBits(bits), mean_bits: mb.means(bits),
  };
  if (final !== student) final.dispose();
  student.dispose();
  if (!res.interrupted && main) fs.writeFileSync(path.join(o.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  // Rank 0 alone loads and tests the checkpoint of record (its best epoch, while the other
  // ranks hold the last one): every rank returns rank 0's summary.
  return dist ? dist.broadcastJson(summary) : summary;
}
