// The experiment runner (`gdnsq experiment grid`): every row of a config in order, each in its
// own folder under `out`. Finished rows (their result.json exists) are skipped, a stopped
// training row continues from its resume state, and after each row the results JSON and its
// Markdown table are rewritten, so the grid can be stopped at any moment and started again.
import * as fs from 'fs';
import * as path from 'path';
import { loadSafetensorsMetadata } from '../engine';
import { GridConfig, RowConfig, selectRows } from './config';
import { GridData, loadGridData } from './grid-data';
import { readRowResult, rowDir, runRow } from './row';
import { Results, mergeResults, readResults, writeJsonAtomic } from './results';
import { resultsMarkdown } from './results-markdown';
import { gridSpec, renderSvg, writeSvgPng } from '../report';

const rel = (p: string): string => path.relative(process.cwd(), path.resolve(p)) || '.';

/** The command that runs one row of the config (paths relative to the working directory). */
export function rowCommand(config: GridConfig, name: string, out: string): string {
  return `gdnsq experiment row --config ${rel(config.file)} --row ${name} --out ${rel(out)}`;
}

export type RowState = 'done' | 'in progress' | 'not started';
export interface RowStatus { name: string; method: string; state: RowState; detail: string }

function progressOf(dir: string): string | null {
  const file = path.join(dir, 'resume.safetensors');
  if (!fs.existsSync(file)) return fs.existsSync(path.join(dir, 'summary.json')) ? 'trained, result not written' : null;
  const meta = loadSafetensorsMetadata(file);
  const trainer = JSON.parse(meta.trainer ?? '{}') as { epoch?: number; step?: number };
  const card = JSON.parse(meta.gdnsq ?? '{}') as { finetune?: { epochs?: number } };
  return `epoch ${trainer.epoch ?? '?'}/${card.finetune?.epochs ?? '?'} saved (step ${trainer.step ?? '?'})`;
}

export function gridStatus(config: GridConfig, out: string, names?: string[]): RowStatus[] {
  return selectRows(config, names).map((r: RowConfig) => {
    const done = readRowResult(out, r.name);
    if (done) {
      const bits = done.method === 'fp' ? '' : `, ${done.converged ? 'converged' : 'NOT converged'}`;
      return { name: r.name, method: r.method, state: 'done', detail: `top-1 ${(100 * done.top1).toFixed(2)}%${bits}, ${done.wall_s.toFixed(0)} s` };
    }
    const p = progressOf(rowDir(out, r.name));
    return p ? { name: r.name, method: r.method, state: 'in progress', detail: p } : { name: r.name, method: r.method, state: 'not started', detail: '' };
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
  const done = out === null ? [] : config.rows.map((r) => readRowResult(out, r.name)).filter((r) => r !== null);
  const results = mergeResults(readResults(file), done, config.rows.map((r) => r.name));
  writeJsonAtomic(file, results);
  const md = resultsMarkdown(results, {
    title: config.title, compare: config.compare, sizeNote: SIZE_NOTE,
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
  progress?: boolean;
  say?(line: string): void;
}

export interface GridOutcome {
  ran: string[];
  skipped: string[];
  /** The row that was stopped, if one was. */
  interrupted: string | null;
  /** The results files written: <out>/results.json and the config's results file, if it names one (each with its .md, .svg and .png). */
  files: string[];
}

export async function runGrid(config: GridConfig, o: GridRunOptions): Promise<GridOutcome> {
  const rows = selectRows(config, o.rows);
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const files = [path.join(o.out, 'results.json'), ...(config.results ? [config.results] : [])];
  const outcome: GridOutcome = { ran: [], skipped: [], interrupted: null, files };
  let data: GridData | null = null;
  try {
    for (const row of rows) {
      if (readRowResult(o.out, row.name)) {
        outcome.skipped.push(row.name);
        say(`${row.name}: done, skipped`);
        continue;
      }
      data ??= loadGridData(config);
      say(`== ${row.name} (${row.method}) → ${rowDir(rel(o.out), row.name)}`);
      const r = await runRow(row, { config, data, out: o.out, command: rowCommand(config, row.name, o.out), progress: o.progress, say });
      if (r.interrupted) {
        outcome.interrupted = row.name;
        say(`${row.name}: stopped; its state is saved, run the same command again to continue`);
        break;
      }
      outcome.ran.push(row.name);
      say(`${row.name}: top-1 ${(100 * r.result!.top1).toFixed(2)}%, converged ${r.result!.converged}, ${r.result!.wall_s} s`);
      await redrawResults(config, o.out, files);
    }
  } finally {
    data?.teacher.dispose();
  }
  await redrawResults(config, o.out, files);
  return outcome;
}
