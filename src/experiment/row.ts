// One row of a grid, in its own folder `<out>/<row>/`: the FP row evaluates the teacher, a ptq
// row quantizes it with min-max grids (ptq.ts), a gdnsq or fixed row runs train.finetune()
// (validation selects the checkpoint, the test split is evaluated once at the end). The row is
// finished when `result.json` exists; a training row stopped part-way continues from its
// folder's resume.safetensors with the epochs it was planned for.
import * as fs from 'fs';
import * as path from 'path';
import { BatchLoader } from '../data';
import { scope } from '../engine';
import { exportPacked } from '../export';
import { quantizerBits, bitsSummary, resetObservedCodes, QuantizeOptions, activationElements, quantizerSizes, weightedMeans } from '../quant';
import { evaluate, finetune, FinetuneOptions, FinetuneSummary, loadTrainingCard, saveModelFile, MetricsLog, round } from '../train';
import { GridConfig, RowConfig, QUANTIZE_KEYS } from './config';
import { GridData } from './grid-data';
import { ptq } from './ptq';
import { ResultRow, resultRow, writeJsonAtomic } from './results';

export const RESULT_FILE = 'result.json';
const RESUME_FILE = 'resume.safetensors';
const SUMMARY_FILE = 'summary.json';
// One line per finished or stopped training session of the row: its wall time adds up to wall_s.
const SESSIONS_FILE = 'sessions.jsonl';

export const rowDir = (out: string, name: string): string => path.join(out, name);

export interface RowRunOptions {
  config: GridConfig;
  data: GridData;
  /** The grid's output folder; the row works in <out>/<row name>. */
  out: string;
  /** Recorded in the result as the way to reproduce the row. */
  command: string;
  progress?: boolean;
  say?(line: string): void;
}

export interface RowOutcome {
  /** null when the row was stopped (SIGINT) before it finished. */
  result: ResultRow | null;
  interrupted: boolean;
}

/** The quantize() options and the finetune() settings of a training row (method defaults applied). */
export function trainingOptions(row: RowConfig): { quantize: QuantizeOptions; finetune: Partial<FinetuneOptions> } {
  const q: Record<string, unknown> = {};
  const f: Record<string, unknown> = {};
  // Fixed-bit QAT: starts at the target (no descent; the plan is the target from step 1 and the
  // penalty holds the bits there) with the LSQ step gradient on weights and activations and
  // the LSQ step initialisation of activations (min-max grids at 1 bit leave the codes at 0).
  const fixedStart = Math.min(...[row.options.wBits!, row.options.aBits!].filter((b) => b < 32));
  const defaults: Record<string, unknown> = row.method === 'fixed' ? { method: 'lsq', actMethod: 'lsq', actInit: 'lsq', startBits: Number.isFinite(fixedStart) ? fixedStart : 10 } : {};
  for (const [k, v] of Object.entries({ ...defaults, ...row.options })) {
    if (k in QUANTIZE_KEYS) q[k] = v;
    else f[k] = v;
  }
  // finetune() takes the start bits as its own option (quantize() gets it from there too).
  if (q.startBits !== undefined) f.startBits = q.startBits;
  return { quantize: q as unknown as QuantizeOptions, finetune: f as Partial<FinetuneOptions> };
}

// A group with no enabled quantizer (activations of W1A32) is FP: 32 bits, not the empty max 0.
const fpIfNone = (max: number, count: number): number => (count > 0 ? max : 32);
const countRole = (layers: Record<string, unknown>, role: string): number => Object.keys(layers).filter((k) => k.endsWith(`.${role}_quant`)).length;

function sessionsWall(dir: string): number {
  return MetricsLog.read(path.join(dir, SESSIONS_FILE)).reduce((s, r) => s + (typeof r.wall_s === 'number' ? r.wall_s : 0), 0);
}

/** The packed file's size, or null with the reason when the model cannot be packed. */
function packedBytes(checkpoint: string, dir: string): { bytes: number | null; source: string } {
  try {
    return { bytes: exportPacked(checkpoint, path.join(dir, 'packed.safetensors')).bytes, source: 'packed file' };
  } catch (e) {
    return { bytes: null, source: `not packable: ${(e as Error).message.split('\n')[0].replace(/^.*?: packed: /, '')}` };
  }
}

function finish(dir: string, result: ResultRow, details: Record<string, unknown>): ResultRow {
  writeJsonAtomic(path.join(dir, RESULT_FILE), { ...result, ...details });
  return result;
}

function evalRow(row: RowConfig, o: RowRunOptions, dir: string, t0: number): ResultRow {
  const { data } = o;
  const normalize = data.card.normalize;
  const loader = (ds: typeof data.val): BatchLoader => new BatchLoader({ dataset: ds, batchSize: 500, normalize });
  const base = { setting: row.name, method: row.method, command: o.command };
  if (row.method === 'fp') {
    const val = data.val.n ? evaluate(data.teacher, loader(data.val).epoch(0)).top1 : null;
    const top1 = evaluate(data.teacher, loader(data.test).epoch(0)).top1;
    const result: ResultRow = {
      ...base, top1: round(top1, 4), converged: true, wbits_max: 32, abits_max: 32, epochs: 0, wall_s: round((Date.now() - t0) / 1000, 1), model_bytes: data.teacherBytes,
      wbits_mean: 32, abits_mean: 32,
    };
    return finish(dir, result, { val_top1: val === null ? null : round(val, 4), model_bytes_source: 'FP checkpoint file' });
  }
  const { quantize: qopts } = trainingOptions({ ...row, method: 'gdnsq' });
  const calibBatches = row.options.calibBatches as number | undefined;
  // The calibration batches a GDNSQ row of the same budget calibrates on (train.finetune).
  const calib = new BatchLoader({ dataset: data.train, batchSize: row.budget.batchSize, shuffle: true, seed: o.config.seed + 1, normalize });
  const r = ptq({ teacher: data.teacher, teacherCard: data.card, quantize: qopts, calibration: calib.epoch(0), calibBatches });
  try {
    o.say?.(`${row.name}: min-max grids at the targets from ${r.calibration.batches} calibration batches`);
    resetObservedCodes(r.model);
    const val = data.val.n ? evaluate(r.model, loader(data.val).epoch(0)).top1 : null;
    resetObservedCodes(r.model);
    const top1 = evaluate(r.model, loader(data.test).epoch(0)).top1;
    const bits = quantizerBits(r.model);
    const sum = bitsSummary(bits);
    const elements = scope(() => activationElements(r.model, loader(data.val.n ? data.val : data.test).batch(0, 0).x));
    const means = weightedMeans(bits, quantizerSizes(r.model, elements));
    const file = path.join(dir, 'ptq.safetensors');
    saveModelFile(file, r.model.stateDict(), { ...r.card, teacher: data.teacherRef, val_top1: val });
    const packed = packedBytes(file, dir);
    const result: ResultRow = {
      ...base, top1: round(top1, 4), converged: sum.converged, wbits_max: fpIfNone(round(sum.weights.trueMax, 3), sum.weights.count),
      abits_max: fpIfNone(round(sum.activations.trueMax, 3), sum.activations.count),
      epochs: 0, wall_s: round((Date.now() - t0) / 1000, 1), model_bytes: packed.bytes, wbits_mean: round(means.w.mean, 4), abits_mean: round(means.a.mean, 4),
    };
    return finish(dir, result, { val_top1: val === null ? null : round(val, 4), checkpoint: 'ptq.safetensors', model_bytes_source: packed.source, calib_batches: r.calibration.batches });
  } finally {
    r.model.dispose();
  }
}

async function trainRow(row: RowConfig, o: RowRunOptions, dir: string): Promise<RowOutcome> {
  const { data } = o;
  let summary: FinetuneSummary;
  const summaryFile = path.join(dir, SUMMARY_FILE);
  if (fs.existsSync(summaryFile)) {
    // Trained and tested already; only the result was not written.
    summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as FinetuneSummary;
  } else {
    const resume = fs.existsSync(path.join(dir, RESUME_FILE));
    const { quantize, finetune: fo } = trainingOptions(row);
    // A resumed run keeps the epochs it was planned for (a time budget may have capped them).
    const planned = resume ? (loadTrainingCard(path.join(dir, RESUME_FILE)).finetune as { epochs?: number } | undefined)?.epochs : undefined;
    if (resume) o.say?.(`${row.name}: resuming from ${path.join(path.basename(dir), RESUME_FILE)}`);
    summary = await finetune({
      ...fo, teacher: data.teacher, teacherCard: data.card, teacherRef: data.teacherRef, train: data.train, val: data.val, test: data.test,
      quantize, epochs: planned ?? row.budget.epochs, timeBudgetMin: row.budget.timeBudgetMin, batchSize: row.budget.batchSize,
      augment: data.augment, seed: o.config.seed, outDir: dir, resume, progress: o.progress, onMessage: o.say,
      runCard: { experiment: path.basename(o.config.file), row: row.name },
    });
    new MetricsLog(path.join(dir, SESSIONS_FILE)).write({ wall_s: summary.wall_seconds, interrupted: summary.interrupted, epochs_run: summary.epochs_run });
    if (summary.interrupted) return { result: null, interrupted: true };
  }
  if (summary.quant_top1 === null) throw new Error(`${row.name}: the run has no test accuracy (is the test split empty?)`);
  const packed = packedBytes(path.join(dir, summary.checkpoint), dir);
  const result: ResultRow = {
    setting: row.name, method: row.method, top1: summary.quant_top1, converged: summary.converged,
    wbits_max: fpIfNone(summary.wbits_max, countRole(summary.layers, 'weight') + countRole(summary.layers, 'bias')),
    abits_max: fpIfNone(summary.abits_max, countRole(summary.layers, 'act')), epochs: summary.epochs_run, wall_s: round(sessionsWall(dir), 1), command: o.command, model_bytes: packed.bytes,
    ...(summary.mean_bits ? { wbits_mean: summary.mean_bits.w, abits_mean: summary.mean_bits.a } : {}),
  };
  return {
    result: finish(dir, result, {
      checkpoint: summary.checkpoint, model_bytes_source: packed.source, planned_epochs: summary.epochs, fp_top1: summary.fp_top1,
      planned_step: summary.planned_step, reached_step: summary.reached_step, steps: summary.steps,
    }),
    interrupted: false,
  };
}

/** Runs (or continues) one row; a finished row returns its stored result without work. */
export async function runRow(row: RowConfig, o: RowRunOptions): Promise<RowOutcome> {
  const dir = rowDir(o.out, row.name);
  const done = readRowResult(o.out, row.name);
  if (done) return { result: done, interrupted: false };
  const t0 = Date.now();
  const training = row.method === 'gdnsq' || row.method === 'fixed';
  // A folder without a resume state holds nothing worth keeping (a row stopped in its first
  // epoch, or an evaluation row stopped midway): start it afresh.
  if (fs.existsSync(dir) && !(training && (fs.existsSync(path.join(dir, RESUME_FILE)) || fs.existsSync(path.join(dir, SUMMARY_FILE))))) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  if (!training) return { result: evalRow(row, o, dir, t0), interrupted: false };
  return trainRow(row, o, dir);
}

/** The stored result of a finished row, or null. */
export function readRowResult(out: string, name: string): ResultRow | null {
  const file = path.join(rowDir(out, name), RESULT_FILE);
  if (!fs.existsSync(file)) return null;
  return resultRow(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>, file);
}
