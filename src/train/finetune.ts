// The GDNSQ fine-tuning recipe as one library call (GDNSQ.md §4): quantize a copy of the FP
// teacher, calibrate, plan the descent for the budget, fine-tune with the exterior-point
// objective, select on the noise-aware metric, evaluate the selected checkpoint on the test
// split once. The CLI's `gdnsq quantize` only parses arguments into these options and prints.
import * as fs from 'fs';
import * as path from 'path';
import { getNumThreads, scope } from '../engine';
import { ImageDataset, BatchLoader, Augment } from '../data';
import { Model } from '../models';
import { RAdam, radamRectification } from '../optim';
import {
  quantize, calibrate, quantizerBits, bitsSummary, resetObservedCodes, GdnsqObjective, GdnsqLrSchedule, noiseAwareMetric,
  QuantizeOptions, QuantizeReport, DistillLoss, AnnealMode, DescentPlan, DescentShape, planDescent, describePlan, BudgetError,
  DescentController, QuantizerBits, activationElements, ActInit,
} from '../quant';
import { MeanBits, budgetRun } from './mean-bits';
import { ModelCard } from './checkpoint';
import { evaluate, topkCorrect } from './evaluate';
import { buildModel, loadModel } from './model-file';
import { FileRef, round } from './provenance';
import { Trainer } from './trainer';
import { MetricsLog } from './metrics-log';
import { probeEpochs } from './budget';
import { DataParallel, ShardedLoader } from '../dist';

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
  /** Planned: the training-accuracy drop that holds the plan (default 0.2). */
  holdDrop?: number;
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
  holds: number; held_steps: number; fp_top1: number | null; quant_top1: number | null; delta_pt: number | null;
  converged: boolean; wbits_max: number; abits_max: number; checkpoint: string; epochs: number; epochs_run: number;
  steps: number; wall_seconds: number; interrupted: boolean; settings: Record<string, unknown>;
  fp_layers: QuantizeReport['fp']; layers: Record<string, { target: number; bits: number; true: number }>;
  /** Size-weighted mean integer bits of the checkpoint (weights by parameters, activations by elements per sample), and the budget if one was set. */
  mean_bits: MeanBits;
}

export function layerBits(entries: QuantizerBits[]): Record<string, { target: number; bits: number; true: number; max?: number }> {
  const out: Record<string, { target: number; bits: number; true: number; max?: number }> = {};
  // max: the widest channel's differentiable bits (per-channel weights), what the penalty sees first.
  for (const e of entries) out[e.name] = { target: e.target, bits: round(e.bits, 3), true: round(e.trueBits, 3), ...(e.bitsMax !== e.bits ? { max: round(e.bitsMax, 3) } : {}) };
  return out;
}

/**
 * The quantizer-parameter LR a plan needs: an Adam-type step moves a log2 parameter by about
 * lr·(RAdam's rectification) per step, and the rectification is small in the first hundreds of
 * steps (0.2 at step 100), so 2.5× the plan's mean rate over the mean rectification of the
 * descent steps, which leaves room for noisy gradients. Not clamped: see QLR_MAX.
 */
export function plannedQuantizerLr(plan: DescentPlan, startBits: number, minTarget: number): number {
  const len = Math.max(1, plan.descentEnd - plan.warmupSteps);
  let rect = 0;
  for (let k = plan.warmupSteps + 1; k <= plan.descentEnd; k++) rect += radamRectification(k);
  const mean = Math.max(0, startBits - minTarget) / len;
  return Math.max(0.01, (2.5 * mean) / Math.max(rect / len, 0.02));
}

// The largest quantizer LR the recipe uses, and the need beyond which the plan is refused: 0.75
// is 0.3 without the 2.5× margin, where even the largest LR would leave the descent far behind
// its plan (a ResNet-20 plan needing 1.05 reached its W2A2 target 25% late at 0.2, a SmallCNN
// one needing 0.7 on time). Between the two the descent may lag its plan a little.
const QLR_MAX = 0.2, QLR_REFUSE = 0.75;

function checkFeasible(plan: DescentPlan, startBits: number, minTarget: number, stepsPerEpoch: number, epochs: number, planAt: (epochs: number) => DescentPlan | null): void {
  const need = plannedQuantizerLr(plan, startBits, minTarget);
  if (need <= QLR_REFUSE) return;
  let more = epochs + 1;
  for (; more < 100 * epochs; more++) {
    const p = planAt(more);
    if (p && plannedQuantizerLr(p, startBits, minTarget) <= QLR_REFUSE) break;
  }
  throw new BudgetError(`budget too short: descending from ${startBits} to ${minTarget} bits in steps ${plan.warmupSteps + 1}–${plan.descentEnd} ` +
    `would need a quantizer LR of ${need.toFixed(2)} (the optimizer moves slowly in its first hundreds of steps; at most ${QLR_REFUSE} is workable): ` +
    `give about ${more} epochs of ${stepsPerEpoch} steps (or a smaller batch), or a later --descent`);
}

interface HookState { objective: unknown; lr: unknown; controller: unknown; converged: boolean; everConverged: boolean; reachedStep: number | null; budget?: unknown }

// How often (steps) the true bit-widths are checked for the step the target is first reached.
const REACH_CHECK_EVERY = 10;

export async function finetune(o: FinetuneOptions): Promise<FinetuneSummary> {
  const t0 = Date.now();
  const dist = o.dist ?? null;
  const main = !dist || dist.isMain;
  const say = !main ? () => {} : o.onMessage ?? ((l: string) => process.stderr.write(`${l}\n`));
  const schedule = o.schedule ?? 'planned';
  const seed = o.seed ?? 0, batchSize = o.batchSize ?? 128, lr = o.lr ?? 1e-3, startBits = o.startBits ?? 10;
  const logEvery = o.logEvery ?? 50;
  const normalize = o.teacherCard.normalize;
  o.teacher.eval();
  const qopts: QuantizeOptions = { startBits, ...o.quantize };
  const student = buildModel({ ...o.teacherCard, quant: undefined });
  student.loadStateDict(o.teacher.stateDict(), { strict: true });
  const report = quantize(student, qopts);
  // Data-parallel: each rank takes its shard of the global batch (batchSize × ranks).
  const shard = (l: BatchLoader): BatchLoader | ShardedLoader => (dist ? new ShardedLoader(l, dist.rank, dist.worldSize) : l);
  const ranks = dist?.worldSize ?? 1;
  const trainLoader = shard(new BatchLoader({ dataset: o.train, batchSize: batchSize * ranks, shuffle: true, seed, normalize, augment: o.augment }));
  const valLoader = o.val && o.val.n > 0 ? new BatchLoader({ dataset: o.val, batchSize: 500, normalize }) : undefined;
  const stepsPerEpoch = trainLoader.batchesPerEpoch;
  if (!o.resume) {
    if (fs.existsSync(path.join(o.outDir, 'resume.safetensors'))) throw new Error(`${o.outDir} already holds a run: resume it, or choose another output folder`);
    say(report.toString());
    const calibLoader = shard(new BatchLoader({ dataset: o.train, batchSize: batchSize * ranks, shuffle: true, seed: seed + 1, normalize }));
    const agreeRanges = dist ? (r: { min: number; max: number }[]) => dist.agreeRanges(r) : undefined;
    const rep = scope(() => calibrate(student, calibLoader.epoch(0), { startBits, maxBatches: o.calibBatches ?? 4, agreeRanges, actInit: o.actInit }));
    say(`calibrated on ${rep.batches} batches: every quantizer starts at ~${startBits} bits`);
  }

  const named = student.namedParameters();
  const qparams = named.filter(([n]) => n.includes('_quant.')).map(([, p]) => p);
  const wparams = named.filter(([n]) => !n.includes('_quant.')).map(([, p]) => p);
  const objective = new GdnsqObjective({ student, teacher: o.teacher, loss: o.loss ?? 'skl', lr, kappa: o.kappa ?? 2, growth: schedule === 'kappa' ? 'kappa' : 'external',
    reduceTask: dist ? (v, rows) => dist.weightedMean([v], rows)[0] : undefined });
  // Sizes of the quantizers (activations: elements per sample of one batch) for the mean bits and a budget.
  const mb = budgetRun(student, scope(() => activationElements(student, trainLoader.batch(0, 0).x)), qopts.budget, objective);

  // The budget: epochs (capped by the time budget, measured once; a resumed run keeps its epochs).
  let epochs = o.epochs;
  if (o.timeBudgetMin !== undefined && !o.resume) {
    const probe = probeEpochs({ student, objective, loader: trainLoader, batchSize, valImages: o.val?.n ?? 0, budgetMin: o.timeBudgetMin });
    // A timing differs between ranks: rank 0's budget holds for all.
    epochs = Math.min(epochs, dist ? dist.broadcastJson(probe.epochs) : probe.epochs);
    say(`time budget ${o.timeBudgetMin} min: ~${probe.epochSeconds.toFixed(0)} s per epoch measured → ${epochs} epochs`);
  }
  const totalSteps = epochs * stepsPerEpoch;
  const warmupSteps = o.warmupSteps ?? Math.round(0.05 * totalSteps);
  // The κ-schedule's warm-up is the run's (the objective's own default is the reference's 1000 steps).
  objective.warmupSteps = warmupSteps;
  const targets = quantizerBits(student).filter((e) => !e.pruned).map((e) => e.target);
  const minTarget = Math.min(...targets, ...mb.budgetTargets, startBits);
  let plan: DescentPlan | null = null;
  let controller: DescentController | null = null;
  let qlr = o.qlr ?? 1e-2;
  const targetText = `W${o.quantize.wBits}A${o.quantize.aBits}${o.quantize.layers ? ' (+ per-layer targets)' : ''}`;
  if (schedule === 'planned') {
    const planAt = (e: number): DescentPlan => planDescent({
      totalSteps: e * stepsPerEpoch, startBits, minTarget, warmupSteps: o.warmupSteps ?? Math.round(0.05 * e * stepsPerEpoch), descent: o.descent, shape: o.shape,
    });
    plan = planAt(epochs);
    checkFeasible(plan, startBits, minTarget, stepsPerEpoch, epochs, (e) => { try { return planAt(e); } catch { return null; } });
    controller = new DescentController({ plan, holdDrop: o.holdDrop });
    const c = controller;
    objective.targetOf = (t) => c.planned(t);
    if (o.qlr === undefined) qlr = Math.min(QLR_MAX, plannedQuantizerLr(plan, startBits, minTarget));
    say(describePlan(plan, stepsPerEpoch, targetText));
  } else {
    say(`schedule kappa: t += lr·κ = ${lr * (o.kappa ?? 2)} per step after ${warmupSteps} warm-up steps (${totalSteps} steps, ${epochs} epochs)`);
  }
  const optimizer = new RAdam([{ params: wparams, lr }, { params: qparams, lr: qlr }], { lr });
  const anneal = o.anneal ?? (schedule === 'planned' ? 'cosine' : 'exp');
  const lrs = new GdnsqLrSchedule({
    warmupSteps, anneal, decayPerEpoch: o.decayPerEpoch, stepsPerEpoch,
    annealStart: plan ? plan.descentEnd : 0, totalSteps: Math.max(totalSteps, 1),
  });
  const settings = {
    schedule, epochs, batchSize, lr, qlr: round(qlr, 6), kappa: o.kappa ?? 2, warmupSteps, anneal, decayPerEpoch: lrs.decayPerEpoch,
    descent: plan ? o.descent ?? 0.4 : undefined, shape: plan?.shape, holdDrop: plan ? o.holdDrop ?? 0.2 : undefined,
    loss: objective.lossName, patience: o.patience, seed, augment: o.augment ?? {}, quantize: qopts, actInit: o.actInit ?? 'minmax',
  };
  const card: ModelCard = {
    ...o.teacherCard, quant: { options: qopts, act_elements: mb.actElements }, teacher: o.teacherRef ?? null, finetune: settings,
    ...(o.runCard ? { run: { ...o.runCard, epochs, timeBudget: undefined } } : {}),
  };

  const log = main ? new MetricsLog(path.join(o.outDir, 'metrics.jsonl')) : { write: () => {} };
  const st: HookState = { objective: null, lr: null, controller: null, converged: false, everConverged: false, reachedStep: null };
  let shown: Record<string, string> = {};
  let lastAcc = 0;
  const planFor = (target: number): number => (controller ? controller.planned(target) : target);
  const trainer = new Trainer({
    model: student, optimizer, train: trainLoader, val: valLoader, epochs, outDir: o.outDir, card, seed,
    patience: o.patience, progress: o.progress, title: targetText, dist, saveEvery: o.saveEvery,
    hooks: {
      loss: (b) => {
        const r = objective.loss(b);
        lastAcc = topkCorrect(r.logits, b.y, 1) / b.size;
        if (dist) lastAcc = dist.weightedMean([lastAcc], b.size)[0];
        return r;
      },
      lrFactor: (s) => lrs.factor(s),
      afterStep: (s) => {
        const v = objective.afterStep(s);
        if (controller) {
          const m = objective.measured;
          controller.update(s, { lagW: m.lagW, lagA: m.lagA, acc: lastAcc });
          objective.tw = controller.tw;
          objective.ta = controller.ta;
        }
        lrs.afterStep(s);
        const checkReach = st.reachedStep === null && s > warmupSteps && s % REACH_CHECK_EVERY === 0;
        // A budget's penalty target follows the measured cost all through the run.
        const measure = checkReach || (mb.budgetTargets.length > 0 && s > warmupSteps && s % REACH_CHECK_EVERY === 0);
        if (s % logEvery === 0 || s === 1 || measure) {
          const bits = quantizerBits(student);
          const sum = bitsSummary(bits);
          if (s > warmupSteps) mb.track(bits, planFor);
          if (checkReach && mb.converged(bits, sum)) st.reachedStep = s;
          if (s % logEvery === 0 || s === 1) {
            const wPlan = planFor(o.quantize.wBits), aPlan = planFor(o.quantize.aBits);
            shown = { W: `${sum.weights.trueMax.toFixed(2)}/${wPlan.toFixed(2)}`, A: `${sum.activations.trueMax.toFixed(2)}/${aPlan.toFixed(2)}` };
            if (controller?.holding) shown.hold = 'on';
            log.write({
              kind: 'step', step: s, loss: round(v.task, 5), t: round(objective.t, 5), tw: round(objective.tw, 5), ta: round(objective.ta, 5), pw: round(v.pw, 5), pa: round(v.pa, 5),
              lr: optimizer.paramGroups[0].lr, acc: round(lastAcc, 4), lag_w: round(objective.measured.lagW, 3), lag_a: round(objective.measured.lagA, 3),
              w_plan: round(wPlan, 3), a_plan: round(aPlan, 3), holding: controller?.holding ?? false, clock: controller?.clock ?? s,
              w_true_mean: round(sum.weights.trueMean, 3), w_true_max: round(sum.weights.trueMax, 3),
              a_bits_mean: round(sum.activations.mean, 3), a_bits_max: round(sum.activations.max, 3),
              a_true_max: round(sum.activations.trueMax, 3), converged: mb.converged(bits, sum), ...mb.record(bits), layers: layerBits(bits),
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
            w_true_mean: round(sum.weights.trueMean, 3), a_true_mean: round(sum.activations.trueMean, 3), t: round(objective.t, 5), tw: round(objective.tw, 5), ta: round(objective.ta, 5),
            holds: controller?.holds ?? 0, held_steps: controller?.held ?? 0, layers: layerBits(bits),
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
  say(`GDNSQ ${targetText} (${qopts.method ?? 'noise'}, ${objective.lossName}, schedule ${schedule}): ${o.train.n} train images, ${getNumThreads()} threads`);
  const res = await trainer.fit();

  // The checkpoint of record: the best noise-aware one if any epoch converged, else the last.
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
    holds: controller?.holds ?? 0, held_steps: controller?.held ?? 0, fp_top1: fpTest ? round(fpTest.top1, 4) : null,
    quant_top1: test === null ? null : round(test, 4), delta_pt: test !== null && fpTest ? round(100 * (test - fpTest.top1), 2) : null,
    converged: mb.converged(bits, sum), wbits_max: round(sum.weights.trueMax, 3), abits_max: round(sum.activations.trueMax, 3),
    checkpoint: path.basename(chosen), epochs, epochs_run: res.state.epoch, steps: res.state.step, wall_seconds: round((Date.now() - t0) / 1000, 1),
    interrupted: res.interrupted, settings, fp_layers: report.fp, layers: layerBits(bits), mean_bits: mb.means(bits),
  };
  if (final !== student) final.dispose();
  student.dispose();
  if (!res.interrupted && main) fs.writeFileSync(path.join(o.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
