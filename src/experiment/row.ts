// One row of a grid: the FP row evaluates the teacher, a ptq row quantizes it with min-max grids
// (ptq.ts), a gdnsq or fixed row runs train.finetune() (validation selects the checkpoint, the
// test split is evaluated once at the end) once per seed of the row. Each run works in its own
// folder: `<out>/<row>/` for the config's seed (so the folders of a single-seed grid are what
// they always were), `<out>/<row>-seed<s>/` for another seed s. A run is finished when its
// `result.json` exists; a training run stopped part-way continues from its folder's
// resume.safetensors with the epochs it was planned for. The row is finished when every seed's
// run is; its result is then their combination (combineSeeds). While a process works in a run's
// folder it holds `running.json` there, so a second shell given the same run skips it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BatchLoader } from '../data';
import { scope } from '../engine';
import { exportPacked } from '../export';
import { quantizerBits, bitsSummary, resetObservedCodes, QuantizeOptions, activationElements, quantizerSizes, weightedMeans } from '../quant';
import { evaluate, finetune, FinetuneOptions, FinetuneSummary, loadTrainingCard, saveModelFile, MetricsLog, round } from '../train';
import { GridConfig, RowConfig, QUANTIZE_KEYS, isTrainingRow } from './config';
import { GridData } from './grid-data';
import { ptq } from './ptq';
import { ResultRow, resultRow, writeJsonAtomic } from './results';

export const RESULT_FILE = 'result.json';
const RESUME_FILE = 'resume.safetensors';
const SUMMARY_FILE = 'summary.json';
// One line per finished or stopped training session of the row: its wall time adds up to wall_s.
const SESSIONS_FILE = 'sessions.jsonl';
// Held while a process trains the run (seeds of a row may run in parallel shells): {pid, host}.
export const RUNNING_FILE = 'running.json';

/** The folder of a row's run at the config's seed (the row's only folder unless it has several seeds). */
export const rowDir = (out: string, name: string): string => path.join(out, name);

/** The folder of the run of seed `seed` of row `name`: `<out>/<row>` for the config's seed, else `<out>/<row>-seed<s>`. */
export const seedDir = (out: string, name: string, seed: number, configSeed: number): string =>
  seed === configSeed ? rowDir(out, name) : path.join(out, `${name}-seed${seed}`);

/** A row run as it always was: one run at the config's seed. Its result carries no seed fields. */
export const singleRun = (row: RowConfig, config: GridConfig): boolean => row.seeds.length === 1 && row.seeds[0] === config.seed;

const rel = (p: string): string => path.relative(process.cwd(), path.resolve(p)) || '.';

/**
 * The command that runs a row (all its seeds), or with `seed` one seed's run of it (paths
 * relative to the working directory). The seeds are named unless the row is a single run at
 * the config's seed, so the command reruns the same runs whatever `--seeds` it was run with.
 */
export function rowCommand(config: GridConfig, name: string, out: string, seeds?: number[], seed?: number): string {
  const plain = !seeds || (seeds.length === 1 && seeds[0] === config.seed);
  return `gdnsq experiment row --config ${rel(config.file)} --row ${name}${plain ? '' : ` --seeds ${seeds.join(',')}`}${plain || seed === undefined ? '' : ` --seed ${seed}`} --out ${rel(out)}`;
}

/** The name of a run in messages: the row's name, with its seed when the row has several or another one. */
export const runLabel = (row: RowConfig, seed: number, config: GridConfig): string => (singleRun(row, config) ? row.name : `${row.name} seed ${seed}`);

export interface RowRunOptions {
  config: GridConfig;
  data: GridData;
  /** The grid's output folder; the row's runs work in <out>/<row name>[-seed<s>]. */
  out: string;
  progress?: boolean;
  say?(line: string): void;
}

export interface RowOutcome {
  /** null when the run was stopped (SIGINT) before it finished (runRow: or the row has seeds left). */
  result: ResultRow | null;
  interrupted: boolean;
  /** The pid of another live process of this machine training the run: nothing was done. */
  runningIn?: number;
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
};

/** The pid of a live process (not this one) holding the run's folder, or null. */
export function runningIn(dir: string): number | null {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(dir, RUNNING_FILE), 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof h.pid === 'number' && h.pid !== process.pid && h.host === os.hostname() && alive(h.pid) ? h.pid : null;
  } catch {
    return null;
  }
}

/** Takes the run's folder for this process (exclusive create; a stale holder's file is replaced); null when another live process holds it. */
function hold(dir: string): (() => void) | null {
  const file = path.join(dir, RUNNING_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname(), started: new Date().toISOString() }), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || runningIn(dir) !== null) return null;
      fs.rmSync(file, { force: true });
    }
  }
  return null;
}

interface SeedRun { row: RowConfig; seed: number; dir: string; label: string; command: string }

/** The quantize() options and the finetune() settings of a training row (method defaults applied). */
export function trainingOptions(row: RowConfig): { quantize: QuantizeOptions; finetune: Partial<FinetuneOptions> } {
  const q: Record<string, unknown> = {};
  const f: Record<string, unknown> = {};
  // Fixed-bit QAT: starts at the target (no descent; the plan is the target from step 1 and the
  // penalty holds the bits there) with the LSQ step gradient on weights and activations and
  // the LSQ step initialisation of activations (min-max grids at 1 bit leave the codes at 0).
  const fixedStart = Math.min(...[row.options.wBits!, row.options.aBits!].filter((b) => b < 32));
  // Its quantizer LR stays the constant 0.01 it had when the baselines were first measured (a
  // plan without a descent would otherwise give it the weights' LR).
  const defaults: Record<string, unknown> = row.method === 'fixed' ? { method: 'lsq', actMethod: 'lsq', actInit: 'lsq', startBits: Number.isFinite(fixedStart) ? fixedStart : 10, qlr: 0.01 } : {};
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

function evalRow(run: SeedRun, o: RowRunOptions, t0: number): ResultRow {
  const { row, dir } = run;
  const { data } = o;
  const normalize = data.card.normalize;
  const loader = (ds: typeof data.val): BatchLoader => new BatchLoader({ dataset: ds, batchSize: 500, normalize });
  const base = { setting: row.name, method: row.method, command: run.command };
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

async function trainRow(run: SeedRun, o: RowRunOptions): Promise<RowOutcome> {
  const { row, dir } = run;
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
    if (resume) o.say?.(`${run.label}: resuming from ${path.join(path.basename(dir), RESUME_FILE)}`);
    summary = await finetune({
      ...fo, teacher: data.teacher, teacherCard: data.card, teacherRef: data.teacherRef, train: data.train, val: data.val, test: data.test,
      quantize, epochs: planned ?? row.budget.epochs, timeBudgetMin: row.budget.timeBudgetMin, batchSize: row.budget.batchSize,
      augment: data.augment, seed: run.seed, outDir: dir, resume, progress: o.progress, onMessage: o.say,
      runCard: { experiment: path.basename(o.config.file), row: row.name },
    });
    new MetricsLog(path.join(dir, SESSIONS_FILE)).write({ wall_s: summary.wall_seconds, interrupted: summary.interrupted, epochs_run: summary.epochs_run });
    if (summary.interrupted) return { result: null, interrupted: true };
  }
  if (summary.quant_top1 === null) throw new Error(`${run.label}: the run has no test accuracy (is the test split empty?)`);
  const packed = packedBytes(path.join(dir, summary.checkpoint), dir);
  const result: ResultRow = {
    setting: row.name, method: row.method, top1: summary.quant_top1, converged: summary.converged,
    wbits_max: fpIfNone(summary.wbits_max, countRole(summary.layers, 'weight') + countRole(summary.layers, 'bias')),
    abits_max: fpIfNone(summary.abits_max, countRole(summary.layers, 'act')), epochs: summary.epochs_run, wall_s: round(sessionsWall(dir), 1), command: run.command, model_bytes: packed.bytes,
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

function seedRun(row: RowConfig, seed: number, config: GridConfig, out: string): SeedRun {
  return {
    row, seed, dir: seedDir(out, row.name, seed, config.seed), label: runLabel(row, seed, config),
    command: rowCommand(config, row.name, out, row.seeds, seed),
  };
}

/**
 * Runs (or continues) the run of one seed of a row (`seed` must be one of `row.seeds`); a
 * finished run returns its stored result without work.
 */
export async function runSeed(row: RowConfig, seed: number, o: RowRunOptions): Promise<RowOutcome> {
  if (!row.seeds.includes(seed)) throw new Error(`seed ${seed} is not one of row ${row.name}'s seeds (${row.seeds.join(', ')})`);
  const run = seedRun(row, seed, o.config, o.out);
  const { dir } = run;
  const done = readSeedResult(o.out, row, seed, o.config);
  if (done) return { result: done, interrupted: false };
  const busy = runningIn(dir);
  if (busy !== null) return { result: null, interrupted: false, runningIn: busy };
  const t0 = Date.now();
  const training = isTrainingRow(row);
  // A folder without a resume state holds nothing worth keeping (a row stopped in its first
  // epoch, or an evaluation row stopped midway): start it afresh.
  if (fs.existsSync(dir) && !(training && (fs.existsSync(path.join(dir, RESUME_FILE)) || fs.existsSync(path.join(dir, SUMMARY_FILE))))) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  const release = hold(dir);
  if (!release) return { result: null, interrupted: false, runningIn: runningIn(dir) ?? -1 };
  try {
    if (!training) return { result: evalRow(run, o, t0), interrupted: false };
    return await trainRow(run, o);
  } finally {
    release();
  }
}

/** Runs (or continues) every seed of a row in turn; the result is the row's combined one (readRowResult). */
export async function runRow(row: RowConfig, o: RowRunOptions): Promise<RowOutcome> {
  for (const seed of row.seeds) {
    const r = await runSeed(row, seed, o);
    if (r.interrupted || r.runningIn !== undefined) return r;
  }
  return { result: readRowResult(o.out, row, o.config), interrupted: false };
}

/** The stored result of one seed's run of a row, or null while it is not finished. */
export function readSeedResult(out: string, row: RowConfig, seed: number, config: GridConfig): ResultRow | null {
  const file = path.join(seedDir(out, row.name, seed, config.seed), RESULT_FILE);
  if (!fs.existsSync(file)) return null;
  return resultRow(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>, file);
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Sample standard deviation (n − 1); 0 for one value. */
export function sampleSd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * One row's result from its seeds' results (in the order of `seeds`): top-1 the mean, with the
 * per-seed values and their sample sd (n − 1); converged when every seed converged; the max
 * bits the max over seeds; the wall time their sum; epochs, size and mean bits the first
 * seed's (the seeds share the recipe, so these differ little).
 */
export function combineSeeds(runs: ResultRow[], seeds: number[], command: string): ResultRow {
  if (!runs.length || runs.length !== seeds.length) throw new Error(`combineSeeds: ${runs.length} results for ${seeds.length} seeds`);
  const [first] = runs;
  const top1 = runs.map((r) => r.top1);
  return {
    ...first,
    top1: round(mean(top1), 6), converged: runs.every((r) => r.converged),
    wbits_max: Math.max(...runs.map((r) => r.wbits_max)), abits_max: Math.max(...runs.map((r) => r.abits_max)),
    wall_s: round(runs.reduce((s, r) => s + r.wall_s, 0), 1), command,
    seeds: [...seeds], top1_seeds: top1, top1_sd: round(sampleSd(top1), 6),
  };
}

/**
 * The result of a finished row, or null while any of its seeds is not finished. A single run at
 * the config's seed is its run's result unchanged; a row with other or several seeds is
 * combined (combineSeeds) and carries `seeds`, `top1_seeds` and `top1_sd`.
 */
export function readRowResult(out: string, row: RowConfig, config: GridConfig): ResultRow | null {
  const runs: ResultRow[] = [];
  for (const seed of row.seeds) {
    const r = readSeedResult(out, row, seed, config);
    if (!r) return null;
    runs.push(r);
  }
  return singleRun(row, config) ? runs[0] : combineSeeds(runs, row.seeds, rowCommand(config, row.name, out, row.seeds));
}
