// The experiment runner (`gdnsq experiment grid`): every row of a config in order, each seed
// of a row in its own folder under `out` (row.ts). Finished runs (their result.json exists) are
// skipped, a stopped training run continues from its resume state, and after each run the
// results JSON and its Markdown table are rewritten (a row enters them once all its seeds are
// finished), so the grid can be stopped at any moment and started again.
import * as fs from 'fs';
import * as path from 'path';
import { loadSafetensorsMetadata } from '../engine';
import { GridConfig, RowConfig, isTrainingRow, selectRows } from './config';
import { GridData, loadGridData } from './grid-data';
import { readRowResult, readSeedResult, runLabel, runSeed, runningIn, seedDir, singleRun } from './row';
import { Results, mergeResults, readResults, writeJsonAtomic } from './results';
import { resultsMarkdown } from './results-markdown';
import { gridSpec, renderSvg, writeSvgPng } from '../report';

const rel = (p: string): string => path.relative(process.cwd(), path.resolve(p)) || '.';

export type RowState = 'done' | 'in progress' | 'not started';
export interface RowStatus { name: string; method: string; state: RowState; detail: string }

function progressOf(dir: string, withStep = true): string | null {
  const file = path.join(dir, 'resume.safetensors');
  const pid = runningIn(dir);
  if (!fs.existsSync(file)) return fs.existsSync(path.join(dir, 'summary.json')) ? 'trained, result not written' : pid !== null ? `running (pid ${pid}), no epoch saved yet` : null;
  const meta = loadSafetensorsMetadata(file);
  const trainer = JSON.parse(meta.trainer ?? '{}') as { epoch?: number; step?: number };
  const card = JSON.parse(meta.gdnsq ?? '{}') as { finetune?: { epochs?: number } };
  return `epoch ${trainer.epoch ?? '?'}/${card.finetune?.epochs ?? '?'} saved${withStep ? ` (step ${trainer.step ?? '?'})` : ''}${pid !== null ? `, running (pid ${pid})` : ''}`;
}

const pm = (r: { top1: number; top1_sd?: number; top1_seeds?: number[] }): string =>
  r.top1_seeds && r.top1_seeds.length > 1 ? `${(100 * r.top1).toFixed(2)} ± ${(100 * (r.top1_sd ?? 0)).toFixed(2)}% over ${r.top1_seeds.length} seeds` : `${(100 * r.top1).toFixed(2)}%`;

export function gridStatus(config: GridConfig, out: string, names?: string[]): RowStatus[] {
  return selectRows(config, names).map((r: RowConfig) => {
    const done = readRowResult(out, r, config);
    if (done) {
      const bits = done.method === 'fp' ? '' : `, ${done.converged ? 'converged' : 'NOT converged'}`;
      return { name: r.name, method: r.method, state: 'done', detail: `top-1 ${pm(done)}${bits}, ${done.wall_s.toFixed(0)} s` };
    }
    if (singleRun(r, config)) {
      const p = progressOf(seedDir(out, r.name, config.seed, config.seed));
      return p ? { name: r.name, method: r.method, state: 'in progress', detail: p } : { name: r.name, method: r.method, state: 'not started', detail: '' };
    }
    // Several seeds: each one's state (a row with none started is not started).
    let started = false;
    const seeds = r.seeds.map((s) => {
      const res = readSeedResult(out, r, s, config);
      const p = res ? null : progressOf(seedDir(out, r.name, s, config.seed), false);
      if (res || p) started = true;
      return `seed ${s} ${res ? `done (${(100 * res.top1).toFixed(2)}%)` : p ?? 'not started'}`;
    });
    return { name: r.name, method: r.method, state: started ? 'in progress' : 'not started', detail: started ? seeds.join(', ') : `${r.seeds.length} seeds (${r.seeds.join(', ')})` };
  });
}

export function formatStatus(rows: RowStatus[]): string {
  const w = Math.max(...rows.map((r) => r.name.length));
  const count = (s: RowState): number => rows.filter((r) => r.state === s).length;
  return [
    ...rows.map((r) => `${r.name.padEnd(w)}  ${r.method.padEnd(5)}  ${r.state.padEnd(11)}  ${r.detail}`.trimEnd()),
    `${count('done')} done, ${count('in progress')} in progress, ${count('not started')} not started`,
  ].join('\n');
}

export const SIZE_NOTE = 'Size: bytes of the deployable file — for quantized rows the packed file (`gdnsq export --format packed`: integer weight codes bit-packed at ' +
  'their true width plus per-channel steps, FP layers, BatchNorm and the model card), for FP the checkpoint file; – where the codes do not fit the packed format (over 8 bits: not converged). ' +
  'Mean bits: every quantizer at its integer width ceil(true bits), weighted by its parameters (weights) or its input elements per sample (activations); ' +
  'a `-mixed` row holds only these means to its budget, each layer free up to 8 bits.';

/** Merges every finished row under `out` (none when null) into `file` and writes the Markdown beside it. */
export function writeResults(config: GridConfig, out: string | null, file: string): Results {
  const done = out === null ? [] : config.rows.map((r) => readRowResult(out, r, config)).filter((r) => r !== null);
  const results = mergeResults(readResults(file), done, config.rows.map((r) => r.name));
  writeJsonAtomic(file, results);
  const md = resultsMarkdown(results, {
    title: config.title, compare: config.compare, sizeNote: SIZE_NOTE, configSeed: config.seed,
    source: `Rows from \`gdnsq experiment grid --config ${rel(config.file)}\`; each row's \`command\` reruns it. Top-1 on the test split, ` +
      'checkpoint selected on the validation split; Δ against the FP row.',
  });
  fs.writeFileSync(file.replace(/\.json$/, '') + '.md', md);
  return results;
}

/** The results plot beside the results file (`<name>.svg` and `.png`); returns their paths. */
export async function writeResultsPlot(config: GridConfig, results: Results, file: string): Promise<string[]> {
  if (!results.rows.some((r) => r.method !== 'fp')) return [];
  return writeSvgPng(file.replace(/\.json$/, ''), await renderSvg(gridSpec(results.rows, config.title)));
}

/** Rewrites the table and the plot of every results file of the grid (merging the rows finished under `out`). */
export async function redrawResults(config: GridConfig, out: string | null, files: string[]): Promise<string[]> {
  const written: string[] = [];
  for (const f of files) {
    const results = writeResults(config, out, f);
    written.push(f, `${f.replace(/\.json$/, '')}.md`, ...(await writeResultsPlot(config, results, f)));
  }
  return written;
}

export interface GridRunOptions {
  out: string;
  /** Only these rows (default: all). */
  rows?: string[];
  /** Only this seed of the selected rows (it must be one of each row's seeds): rows run in parallel shells. */
  seed?: number;
  progress?: boolean;
  say?(line: string): void;
}

export interface GridOutcome {
  /** Rows of which at least one seed's run ran (or continued) to its end. */
  ran: string[];
  /** Rows whose runs (of `seed`, when given) were all finished already. */
  skipped: string[];
  /** The row that was stopped, if one was. */
  interrupted: string | null;
  /** Runs (`W1A1 seed 1`) skipped because another process of this machine was training them. */
  busy: string[];
  /** The results files written: <out>/results.json and the config's results file, if it names one (each with its .md, .svg and .png). */
  files: string[];
}

const summaryLine = (label: string, r: { top1: number; top1_sd?: number; top1_seeds?: number[]; converged: boolean; wall_s: number }): string =>
  `${label}: top-1 ${pm(r)}, converged ${r.converged}, ${r.wall_s} s`;

export async function runGrid(config: GridConfig, o: GridRunOptions): Promise<GridOutcome> {
  const rows = selectRows(config, o.rows);
  if (o.seed !== undefined) {
    const bad = rows.find((r) => !r.seeds.includes(o.seed!));
    if (bad) {
      throw new Error(isTrainingRow(bad)
        ? `--seed ${o.seed} is not one of row ${bad.name}'s seeds (${bad.seeds.join(', ')}); name them with --seeds`
        : `row ${bad.name} (${bad.method}) is deterministic: it runs once, at seed ${config.seed}`);
    }
  }
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const files = [path.join(o.out, 'results.json'), ...(config.results ? [config.results] : [])];
  const outcome: GridOutcome = { ran: [], skipped: [], interrupted: null, busy: [], files };
  let data: GridData | null = null;
  try {
    rows: for (const row of rows) {
      const seeds = o.seed === undefined ? row.seeds : [o.seed];
      if (seeds.every((s) => readSeedResult(o.out, row, s, config))) {
        outcome.skipped.push(row.name);
        say(`${o.seed === undefined || singleRun(row, config) ? row.name : runLabel(row, o.seed, config)}: done, skipped`);
        continue;
      }
      for (const seed of seeds) {
        const label = runLabel(row, seed, config);
        if (readSeedResult(o.out, row, seed, config)) { say(`${label}: done, skipped`); continue; }
        const busy = runningIn(seedDir(o.out, row.name, seed, config.seed));
        if (busy !== null) {
          outcome.busy.push(label);
          say(`${label}: running in another process (pid ${busy}), skipped`);
          continue;
        }
        data ??= loadGridData(config);
        say(`== ${label} (${row.method}) → ${seedDir(rel(o.out), row.name, seed, config.seed)}`);
        const r = await runSeed(row, seed, { config, data, out: o.out, progress: o.progress, say });
        if (r.runningIn !== undefined) {
          outcome.busy.push(label);
          say(`${label}: running in another process (pid ${r.runningIn}), skipped`);
          continue;
        }
        if (r.interrupted) {
          outcome.interrupted = row.name;
          say(`${label}: stopped; its state is saved, run the same command again to continue`);
          break rows;
        }
        if (!outcome.ran.includes(row.name)) outcome.ran.push(row.name);
        say(summaryLine(label, r.result!));
        await redrawResults(config, o.out, files);
      }
      const combined = singleRun(row, config) ? null : readRowResult(o.out, row, config);
      if (combined) say(summaryLine(row.name, combined));
    }
  } finally {
    data?.teacher.dispose();
  }
  await redrawResults(config, o.out, files);
  return outcome;
}
