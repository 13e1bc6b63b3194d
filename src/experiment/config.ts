// The grid config (experiments/grid/*.json): the teacher, the dataset, the default budget and
// the rows. Parsed once, field by field, so a bad file fails with one line naming the field
// (`grid.json: rows[3] (W2A2).options.wBits must be a number > 0, got "2"`) before any work.
// Paths in the file are relative to the file's own folder, so a config means the same from
// any working directory.
import * as fs from 'fs';
import * as path from 'path';
import { DATASET_NAMES, DatasetName } from '../data';
import { QUANT_METHODS, BN_MODES, DISTILL_LOSSES, ANNEAL_MODES, DESCENT_SHAPES, ACT_INITS, MeanBudget, checkMeanBudget } from '../quant';
import { DESCENT_SCHEDULES } from '../train';

export type RowMethod = 'fp' | 'gdnsq' | 'ptq' | 'fixed';
export const ROW_METHODS: readonly RowMethod[] = ['fp', 'gdnsq', 'ptq', 'fixed'];

export interface Budget { epochs: number; batchSize: number; timeBudgetMin?: number }

export interface DatasetConfig {
  name: DatasetName;
  /** Absolute after parsing. */
  dataDir?: string;
  /** Validation images from the end of the training set (default: 10%, at most 5000). */
  valSize?: number;
  /** Use only the first n training images (tests, quick looks). */
  trainLimit?: number;
  cropPadding?: number;
  hflip?: boolean;
}

/** A row's options: quantize() options and train.finetune() settings, by their library names. */
export type RowOptions = Record<string, unknown> & { wBits?: number; aBits?: number };

export interface RowConfig {
  name: string;
  method: RowMethod;
  options: RowOptions;
  budget: Budget;
  /**
   * The training seeds the row runs, each a separate run (default: the config's `seed`); the
   * row's top-1 is their mean. FP and PTQ rows are deterministic: always `[config.seed]`.
   */
  seeds: number[];
}

export interface Compare {
  /** Largest allowed top-1 drop in points against the FP row, per setting. */
  goals: Record<string, number>;
  /** Settings that must score above another (e.g. W2A2 above W2A2-fixed). */
  beats: Record<string, string>;
  /** Published drops (points, negative) and the FP accuracy they are relative to. */
  paper?: { label: string; fp_top1: number; drop_pt: Record<string, number> };
}

export interface GridConfig {
  /** The config file (absolute) and the folder its paths are relative to. */
  file: string;
  teacher: string;
  dataset: DatasetConfig;
  seed: number;
  /** Results JSON the rows are merged into (absolute); the Markdown lies beside it. */
  results?: string;
  title: string;
  compare: Compare;
  rows: RowConfig[];
}

type Check = (v: unknown) => string | null;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const num = (min: number, strict = true): Check => (v) => (isNum(v) && (strict ? v > min : v >= min) ? null : `must be a number ${strict ? '>' : '≥'} ${min}`);
const int = (min: number): Check => (v) => (Number.isInteger(v) && (v as number) >= min ? null : `must be an integer ≥ ${min}`);
const anyNum: Check = (v) => (isNum(v) ? null : 'must be a number');
const frac: Check = (v) => (isNum(v) && v > 0 && v < 1 ? null : 'must be a fraction in (0, 1)');
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const str: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'must be a non-empty string');
const oneOf = (values: readonly string[]): Check => (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);
const strings: Check = (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : 'must be an array of strings');
const object: Check = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? null : 'must be an object');
const seedList: Check = (v) => (Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0) && new Set(v).size === v.length
  ? null : 'must be a non-empty array of distinct integers ≥ 0');
const meanBudget: Check = (v) => {
  if (object(v)) return 'must be an object {wBits?, aBits?, maxBits?}';
  try { checkMeanBudget(v as MeanBudget, 'it'); return null; } catch (e) { return `is not a mean bit-width budget: ${(e as Error).message}`; }
};

/** quantize() options a row may set. */
export const QUANTIZE_KEYS: Record<string, Check> = {
  wBits: num(0), aBits: num(0), method: oneOf(QUANT_METHODS), actMethod: oneOf(QUANT_METHODS), bn: oneOf(BN_MODES),
  perChannel: bool, quantizeFirst: bool, quantizeLast: bool, quantizeShortcuts: bool, quantizeBias: bool,
  weightRangeGrad: bool, learnLower: bool, delta: num(0), layers: object, exclude: strings, startBits: num(0), budget: meanBudget,
};
/** train.finetune() settings a row may set (only rows that train use them, besides calibBatches). */
export const FINETUNE_KEYS: Record<string, Check> = {
  schedule: oneOf(DESCENT_SCHEDULES), descent: frac, shape: oneOf(DESCENT_SHAPES), warmupSteps: int(0), holdDrop: num(0), stagger: num(0, false),
  lr: num(0), qlr: num(0), kappa: num(0, false), anneal: oneOf(ANNEAL_MODES), decayPerEpoch: num(0), loss: oneOf(DISTILL_LOSSES),
  patience: int(1), actInit: oneOf(ACT_INITS),
};
const CALIB_KEYS: Record<string, Check> = { calibBatches: int(1) };
const BUDGET_KEYS: Record<string, Check> = { epochs: int(1), batchSize: int(1), timeBudgetMin: num(0) };
const DATASET_KEYS: Record<string, Check> = {
  name: oneOf(DATASET_NAMES), dataDir: str, valSize: int(0), trainLimit: int(1), cropPadding: int(0), hflip: bool,
};
// The nested sections are checked by their own parsers.
const TOP_KEYS: Record<string, Check> = {
  title: str, teacher: str, seed: int(0), results: str, dataset: object, budget: object, compare: object, rows: () => null,
};
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// `<row>-seed<s>` is the folder of seed s of a row (row.ts), so no row may be named like one.
const SEED_FOLDER = /-seed\d+$/;

/** Rows that train: only these take several seeds. */
export const isTrainingRow = (r: { method: RowMethod }): boolean => r.method === 'gdnsq' || r.method === 'fixed';

export class ConfigError extends Error {}

const at = (where: string, k: string): string => (where ? `${where}.${k}` : k);

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Checks obj's fields against `keys` (one check per known field, or one check for any field);
 * unknown fields and missing `required` ones are errors.
 */
function fields(obj: unknown, where: string, keys: Record<string, Check> | Check, required: string[] = []): Record<string, unknown> {
  if (object(obj)) throw new ConfigError(`${where || 'the config'} must be an object, got ${show(obj)}`);
  const o = obj as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    const check = typeof keys === 'function' ? keys : keys[k];
    if (!check) throw new ConfigError(`${at(where, k)} is not a known field (known: ${Object.keys(keys).join(', ')})`);
    const err = check(v);
    if (err) throw new ConfigError(`${at(where, k)} ${err}, got ${show(v)}`);
  }
  for (const k of required) if (!(k in o)) throw new ConfigError(`${at(where, k)} is missing`);
  return o;
}

function numberMap(v: unknown, where: string): Record<string, number> {
  return fields(v, where, anyNum) as Record<string, number>;
}

function parseCompare(v: unknown, where: string): Compare {
  if (v === undefined) return { goals: {}, beats: {} };
  const o = fields(v, where, { goals: object, beats: object, paper: object });
  const beats = fields(o.beats ?? {}, `${where}.beats`, str) as Record<string, string>;
  let paper: Compare['paper'];
  if (o.paper !== undefined) {
    const p = fields(o.paper, `${where}.paper`, { label: str, fp_top1: frac, drop_pt: object }, ['label', 'fp_top1', 'drop_pt']);
    paper = { label: p.label as string, fp_top1: p.fp_top1 as number, drop_pt: numberMap(p.drop_pt, `${where}.paper.drop_pt`) };
  }
  return { goals: numberMap(o.goals ?? {}, `${where}.goals`), beats, paper };
}

function parseRow(v: unknown, i: number, budget: Budget, seed: number): RowConfig {
  const label = object(v) === null && typeof (v as { name?: unknown }).name === 'string' ? ` (${(v as { name: string }).name})` : '';
  const where = `rows[${i}]${label}`;
  const o = fields(v, where, { name: str, method: oneOf(ROW_METHODS), options: object, budget: object, seeds: seedList }, ['name', 'method']);
  const name = o.name as string;
  if (!NAME.test(name)) throw new ConfigError(`${where}.name must be letters, digits, '.', '_' or '-' (it names the row's folder), got ${show(name)}`);
  if (SEED_FOLDER.test(name)) throw new ConfigError(`${where}.name must not end in '-seed<n>' (that names the folder of a row's seed run), got ${show(name)}`);
  const method = o.method as RowMethod;
  if (o.seeds !== undefined && !isTrainingRow({ method })) throw new ConfigError(`${where}.seeds: ${method === 'fp' ? 'an' : 'a'} ${method} row does not train, it is deterministic and runs once (at the config's seed)`);
  const allowed = method === 'fp' ? {} : method === 'ptq' ? { ...QUANTIZE_KEYS, ...CALIB_KEYS } : { ...QUANTIZE_KEYS, ...FINETUNE_KEYS, ...CALIB_KEYS };
  if (method === 'fp' && o.options !== undefined && Object.keys(o.options as object).length) {
    throw new ConfigError(`${where}.options: an fp row evaluates the teacher and takes no options`);
  }
  if (method === 'ptq') {
    const k = Object.keys((o.options ?? {}) as object).find((x) => x in FINETUNE_KEYS);
    if (k) throw new ConfigError(`${where}.options.${k}: a ptq row does not train, so it takes no '${k}'`);
    if ((o.options as Record<string, unknown> | undefined)?.budget !== undefined) throw new ConfigError(`${where}.options.budget: a mean bit-width budget is learned in training, a ptq row takes none`);
  }
  const options = fields(o.options ?? {}, `${where}.options`, allowed, method === 'fp' ? [] : ['wBits', 'aBits']) as RowOptions;
  const over = fields(o.budget ?? {}, `${where}.budget`, BUDGET_KEYS) as Partial<Budget>;
  return { name, method, options, budget: { ...budget, ...over }, seeds: (o.seeds as number[] | undefined) ?? [seed] };
}

/** Parses a config object; `file` names it in errors and anchors its relative paths. */
export function parseGridConfig(raw: unknown, file: string): GridConfig {
  const base = path.dirname(path.resolve(file));
  const where = path.basename(file);
  try {
    const o = fields(raw, '', TOP_KEYS, ['teacher', 'dataset', 'budget', 'rows']);
    const ds = fields(o.dataset, 'dataset', DATASET_KEYS, ['name']) as unknown as DatasetConfig;
    const budget = fields(o.budget, 'budget', BUDGET_KEYS, ['epochs', 'batchSize']) as unknown as Budget;
    if (!Array.isArray(o.rows) || o.rows.length === 0) throw new ConfigError(`rows must be a non-empty array, got ${show(o.rows)}`);
    const rows = o.rows.map((r, i) => parseRow(r, i, budget, (o.seed as number | undefined) ?? 0));
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(r.name)) throw new ConfigError(`rows: the name '${r.name}' is used twice`);
      seen.add(r.name);
    }
    const compare = parseCompare(o.compare, 'compare');
    for (const [a, b] of Object.entries(compare.beats)) {
      for (const n of [a, b]) if (!seen.has(n)) throw new ConfigError(`compare.beats: no row named '${n}'`);
    }
    return {
      file: path.resolve(file), teacher: path.resolve(base, o.teacher as string), seed: (o.seed as number | undefined) ?? 0,
      dataset: { ...ds, dataDir: ds.dataDir ? path.resolve(base, ds.dataDir) : undefined },
      results: o.results ? path.resolve(base, o.results as string) : undefined,
      title: (o.title as string | undefined) ?? path.basename(file, '.json'), compare, rows,
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${where}: ${e.message}`);
    throw e;
  }
}

export function loadGridConfig(file: string): GridConfig {
  if (!fs.existsSync(file)) throw new ConfigError(`config not found: ${file}`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path.basename(file)}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return parseGridConfig(raw, file);
}

/**
 * The config with the seeds of the training rows among `names` (all when undefined) set to
 * `seeds` (`gdnsq experiment grid --seeds 0,1,2`); FP and PTQ rows keep their one run.
 */
export function withSeeds(config: GridConfig, seeds: number[], names?: string[]): GridConfig {
  const err = seedList(seeds);
  if (err) throw new ConfigError(`seeds ${err}, got ${show(seeds)}`);
  const selected = new Set(selectRows(config, names).map((r) => r.name));
  return { ...config, rows: config.rows.map((r) => (selected.has(r.name) && isTrainingRow(r) ? { ...r, seeds: [...seeds] } : r)) };
}

/** The rows named in `names` (all when undefined), in config order; unknown names are errors. */
export function selectRows(config: GridConfig, names?: string[]): RowConfig[] {
  if (!names) return config.rows;
  const unknown = names.filter((n) => !config.rows.some((r) => r.name === n));
  if (unknown.length) throw new ConfigError(`no row named ${unknown.map((n) => `'${n}'`).join(', ')} in ${path.basename(config.file)} (rows: ${config.rows.map((r) => r.name).join(', ')})`);
  return config.rows.filter((r) => names.includes(r.name));
}
