// The results file of a grid: `{"rows":[{setting, method, top1, converged, wbits_max,
// abits_max, epochs, wall_s, command, model_bytes[, wbits_mean, abits_mean][, seeds,
// top1_seeds, top1_sd]}, …]}`, one entry per setting. A finished
// row is merged in (replacing the entry of the same setting) and the rows are kept in the
// config's order, so reruns and partial grids update the file in place.
import * as fs from 'fs';
import * as path from 'path';
import { RowMethod } from './config';

export interface ResultRow {
  setting: string;
  method: RowMethod;
  /** Test top-1 (fraction) of the checkpoint selected on validation. */
  top1: number;
  /** Every quantizer's true bit-width ≤ its target (true for the FP row). */
  converged: boolean;
  wbits_max: number;
  abits_max: number;
  /** Epochs trained (0: no training). */
  epochs: number;
  wall_s: number;
  /** The command that reproduces the row. */
  command: string;
  /**
   * Bytes of the deployable file: the packed file (quantized rows), the FP checkpoint (FP);
   * null when the model cannot be packed (codes wider than the packed format's 8 bits: a row
   * that did not converge).
   */
  model_bytes: number | null;
  /**
   * Size-weighted mean integer bit-widths (weights by parameters, activations by input elements
   * per sample; 32 for a group left FP); absent in rows written before they were measured.
   */
  wbits_mean?: number;
  abits_mean?: number;
  /**
   * A row run with several seeds (or another seed than the config's): its seeds, each seed's
   * top-1 in that order and their sample standard deviation (n − 1; 0 for one seed). `top1` is
   * then the mean over the seeds. Absent for a row run once at the config's seed.
   */
  seeds?: number[];
  top1_seeds?: number[];
  top1_sd?: number;
}

export interface Results { rows: ResultRow[] }

const OPTIONAL = ['wbits_mean', 'abits_mean', 'seeds', 'top1_seeds', 'top1_sd'] as const;
const OPTIONAL_CHECKS: Record<(typeof OPTIONAL)[number], [(v: unknown) => boolean, string]> = {
  wbits_mean: [(v) => typeof v === 'number', 'a number'],
  abits_mean: [(v) => typeof v === 'number', 'a number'],
  seeds: [(v) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0), 'a non-empty array of integers ≥ 0'],
  top1_seeds: [(v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'), 'a non-empty array of numbers'],
  top1_sd: [(v) => typeof v === 'number' && v >= 0, 'a number ≥ 0'],
};
const FIELDS: Record<Exclude<keyof ResultRow, (typeof OPTIONAL)[number]>, string> = {
  setting: 'string', method: 'string', top1: 'number', converged: 'boolean', wbits_max: 'number', abits_max: 'number',
  epochs: 'number', wall_s: 'number', command: 'string', model_bytes: 'number',
};

/** Only the fields of ResultRow, in their order (row result files carry more). */
export function resultRow(x: Record<string, unknown>, where: string): ResultRow {
  const out: Record<string, unknown> = {};
  for (const [k, type] of Object.entries(FIELDS)) {
    if (typeof x[k] !== type && !(k === 'model_bytes' && x[k] === null)) throw new Error(`${where}: field '${k}' must be a ${type}, got ${JSON.stringify(x[k])}`);
    out[k] = x[k];
  }
  for (const k of OPTIONAL) {
    if (x[k] === undefined) continue;
    const [ok, what] = OPTIONAL_CHECKS[k];
    if (!ok(x[k])) throw new Error(`${where}: field '${k}' must be ${what}, got ${JSON.stringify(x[k])}`);
    out[k] = x[k];
  }
  const seeds = ['seeds', 'top1_seeds', 'top1_sd'].filter((k) => out[k] !== undefined);
  if (seeds.length !== 0 && seeds.length !== 3) throw new Error(`${where}: fields 'seeds', 'top1_seeds' and 'top1_sd' go together, got only ${seeds.map((k) => `'${k}'`).join(', ')}`);
  if (seeds.length && (out.seeds as number[]).length !== (out.top1_seeds as number[]).length) {
    throw new Error(`${where}: 'top1_seeds' must have one value per seed (${(out.seeds as number[]).length}), got ${(out.top1_seeds as number[]).length}`);
  }
  return out as unknown as ResultRow;
}

export function readResults(file: string): Results {
  if (!fs.existsSync(file)) return { rows: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new Error(`${path.basename(file)}: not valid JSON`);
  }
  const rows = (raw as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) throw new Error(`${path.basename(file)}: expected {"rows": [...]}`);
  return { rows: rows.map((r, i) => resultRow(r as Record<string, unknown>, `${path.basename(file)}: rows[${i}]`)) };
}

/** `results` with `add` merged in by setting, ordered as `order` (unknown settings last, as they were). */
export function mergeResults(results: Results, add: ResultRow[], order: string[]): Results {
  const by = new Map(results.rows.map((r) => [r.setting, r]));
  for (const r of add) by.set(r.setting, r);
  const rank = (s: string): number => (order.includes(s) ? order.indexOf(s) : order.length);
  const rows = [...by.values()].map((r, i) => ({ r, i })).sort((a, b) => rank(a.r.setting) - rank(b.r.setting) || a.i - b.i).map((x) => x.r);
  return { rows };
}

/** Writes JSON atomically (temp file + rename): a stopped runner never leaves half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}
