// Ships finished grid rows as models: the row's selected checkpoint copied under the models
// folder as `<teacher name>-<setting>.safetensors` (e.g. resnet20-fashion-mnist-w4a4), with a
// model card (`.md`) written from the row's result and summary: how it was made, what it scores
// against the teacher, its true bit-widths, size, and how to run it elsewhere. Of a row run with
// several seeds it ships the seed whose top-1 is closest to the row's mean (the table's number),
// and the card says which seed it is and what the others scored.
import * as fs from 'fs';
import * as path from 'path';
import { GridConfig, RowConfig, selectRows } from './config';
import { RESULT_FILE, readRowResult, readSeedResult, seedDir, singleRun } from './row';
import { ResultRow } from './results';

export interface ShippedModel {
  setting: string;
  file: string;
  card: string;
  /** A row with several seeds: the seed shipped (closest to the mean) and the row's combined result. */
  seed?: number;
  row?: ResultRow;
}

export interface ShipOptions {
  /** The grid's output folder (one subfolder per row). */
  out: string;
  /** Destination folder (e.g. models). */
  models: string;
  /** Rows to ship (default: the GDNSQ rows the config sets goals for). */
  rows?: string[];
  /** Skip (and report) rows not finished or not converged instead of refusing them. */
  finishedOnly?: boolean;
  say?(line: string): void;
}

interface RowFiles {
  result: Record<string, unknown>;
  summary: Record<string, unknown> | null;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

function readRow(dir: string, name: string): RowFiles {
  const file = path.join(dir, RESULT_FILE);
  if (!fs.existsSync(file)) throw new Error(`ship: row ${name} is not finished (no ${path.join(path.basename(dir), RESULT_FILE)}): run it first`);
  const result = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const summaryFile = path.join(dir, 'summary.json');
  const summary = fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Record<string, unknown>) : null;
  return { result, summary };
}

/** The model file name of a row: the teacher's name and the setting, lower case. */
export function shippedName(config: GridConfig, setting: string): string {
  return `${path.basename(config.teacher).replace(/\.safetensors$/, '')}-${setting.toLowerCase()}`;
}

function layerCounts(summary: Record<string, unknown> | null): string {
  if (!summary) return '';
  const layers = Object.keys((summary.layers ?? {}) as Record<string, unknown>);
  const convs = new Set(layers.map((k) => k.replace(/\.(weight|act|bias)_quant$/, '')));
  const fp = (summary.fp_layers ?? []) as { name: string; reason?: string }[];
  return `${convs.size} quantized layers; kept FP: ${fp.length ? fp.map((l) => (l.reason ? `${l.name} (${l.reason})` : l.name)).join(', ') : 'none'}`;
}

/**
 * The seed of a finished multi-seed row whose top-1 is closest to the row's mean (the first such
 * in seed order on a tie).
 */
export function representativeSeed(row: ResultRow): number {
  const seeds = row.seeds ?? [], top1 = row.top1_seeds ?? [];
  if (!seeds.length) throw new Error(`representativeSeed: row ${row.setting} has no seeds`);
  let best = 0;
  for (let i = 1; i < seeds.length; i++) if (Math.abs(top1[i] - row.top1) < Math.abs(top1[best] - row.top1) - 1e-12) best = i;
  return seeds[best];
}

const meanSd = (r: ResultRow): string => `${(100 * r.top1).toFixed(2)} ± ${(100 * (r.top1_sd ?? 0)).toFixed(2)} %`;

/** What the card and the printed line say of the seed shipped from a multi-seed row. */
export function seedText(seed: number, row: ResultRow): string {
  const i = row.seeds!.indexOf(seed);
  return `seed ${seed} of ${row.seeds!.length} (${row.seeds!.join(', ')}): ${pct(row.top1_seeds![i])}, the closest to the row's mean ${meanSd(row)}`;
}

/** The card of a shipped row; `row` is the combined result when the row has several seeds (files: the shipped seed's). */
export function modelCard(config: GridConfig, name: string, files: RowFiles, fileName: string, row?: { seed: number; result: ResultRow }): string {
  const r = files.result, s = files.summary;
  const top1 = r.top1 as number, fp = (r.fp_top1 ?? s?.fp_top1) as number | undefined;
  const drop = fp === undefined ? '' : `, FP teacher ${pct(fp)}: ${(100 * (top1 - fp)).toFixed(2)} pt`;
  const goal = config.compare.goals[name];
  // A multi-seed row's goal is judged on its mean, as in the results table.
  const judged = row ? row.result.top1 : top1, converged = row ? row.result.converged : r.converged;
  const goalText = goal === undefined || fp === undefined ? '' : ` — goal drop ≤ ${goal} pt${row ? ' (on the mean over seeds)' : ''}: ${100 * (fp - judged) <= goal && converged ? 'holds' : 'missed'}`;
  const bits = `weights ${r.wbits_max}, activations ${r.abits_max} (max over layers; ${r.converged ? 'converged: every layer at or below its target' : 'NOT converged'})` +
    (r.wbits_mean !== undefined ? `; size-weighted means W ${r.wbits_mean} / A ${r.abits_mean}` : '');
  const plan = s?.planned_step !== undefined ? `targets planned by step ${s.planned_step}, reached at step ${s.reached_step ?? '–'} of ${s.steps}` : '';
  const model = `models/${fileName}`;
  const perSeed = row ? row.result.top1_seeds!.map((t, i) => `seed ${row.result.seeds![i]} ${pct(t)}`).join(', ') : '';
  const rows: [string, string][] = [
    ['command', `\`${r.command}\`${r.adopted_from ? ` (this checkpoint: ${String(r.adopted_from)})` : ''}`],
    ...(row ? [['seeds', `${seedText(row.seed, row.result)} (${perSeed}; ± is the sample sd); all seeds: \`${row.result.command}\``] as [string, string]] : []),
    ['test top-1', `**${pct(top1)}**${drop}${goalText} (\`gdnsq eval --checkpoint ${model}\`)`],
    ...(r.val_top1 !== undefined && r.val_top1 !== null ? [['validation top-1', `${pct(r.val_top1 as number)} (selects the checkpoint: ${String(r.checkpoint ?? '')})`] as [string, string]] : []),
    ['true bits', bits],
    ['layers', layerCounts(s)],
    ['training', `${r.epochs} epochs, ${Math.round(r.wall_s as number)} s on 2 cores${plan ? `; ${plan}` : ''}`],
    ['packed', r.model_bytes === null ? 'not packable' : `${r.model_bytes} bytes (\`gdnsq export --checkpoint ${model} --format packed\`)`],
  ];
  return [
    `# ${fileName} — ${name} (${r.method}, grid row${row ? `, seed ${row.seed}` : ''})`,
    '',
    `Row \`${name}\` of \`${config.title}\`, from the FP teacher \`${path.basename(config.teacher)}\` ` +
      `(selection on the validation split, the test split evaluated once). The full table: \`experiments/results/\`.`,
    '',
    '| | |',
    '|---|---|',
    ...rows.filter(([, v]) => v).map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`),
    '',
    `Run it: \`gdnsq predict --model ${model} --dataset\` (packed low-bit runtime), ` +
      `\`gdnsq export --checkpoint ${model} --format onnx --out model.onnx\` (ONNX Runtime, Node or web).`,
    '',
  ].join('\n');
}

function unfinished(out: string, row: RowConfig, config: GridConfig): string {
  const left = row.seeds.filter((s) => !readSeedResult(out, row, s, config));
  return `seed${left.length > 1 ? 's' : ''} ${left.join(', ')} of ${row.seeds.join(', ')} not finished`;
}

/** Copies each row's checkpoint to `<models>/<name>.safetensors` and writes its card beside it. */
export function shipRows(config: GridConfig, o: ShipOptions): ShippedModel[] {
  const goals = Object.keys(config.compare.goals);
  const rows = o.rows ? selectRows(config, o.rows) : config.rows.filter((r) => r.method === 'gdnsq' && goals.includes(r.name));
  fs.mkdirSync(o.models, { recursive: true });
  const shipped: ShippedModel[] = [];
  for (const row of rows) {
    if (row.method === 'fp') throw new Error(`ship: row ${row.name} is the FP teacher itself`);
    const done = readRowResult(o.out, row, config);
    if (o.finishedOnly && (!done || !done.converged)) {
      o.say?.(`${row.name}: ${done ? 'not converged' : 'not finished'}, not shipped`);
      continue;
    }
    const multi = !singleRun(row, config);
    if (multi && !done) throw new Error(`ship: row ${row.name} is not finished (${unfinished(o.out, row, config)}): run it first`);
    if (multi && !done!.converged) {
      throw new Error(`ship: row ${row.name} did not converge at every seed (true bits W ${done!.wbits_max} / A ${done!.abits_max}, max over seeds ${row.seeds.join(', ')}): not shipped as a low-bit model`);
    }
    const seed = multi ? representativeSeed(done!) : config.seed;
    const dir = seedDir(o.out, row.name, seed, config.seed);
    const files = readRow(dir, row.name);
    const checkpoint = path.join(dir, String(files.result.checkpoint));
    if (!files.result.checkpoint || !fs.existsSync(checkpoint)) throw new Error(`ship: row ${row.name} has no checkpoint file (${checkpoint})`);
    if (!files.result.converged) throw new Error(`ship: row ${row.name} did not converge (true bits W ${files.result.wbits_max} / A ${files.result.abits_max}): not shipped as a low-bit model`);
    const name = shippedName(config, row.name);
    const file = path.join(o.models, `${name}.safetensors`), card = path.join(o.models, `${name}.md`);
    // Atomic: a stopped copy never leaves a half model under the final name.
    fs.copyFileSync(checkpoint, `${file}.tmp`);
    fs.renameSync(`${file}.tmp`, file);
    fs.writeFileSync(card, modelCard(config, row.name, files, `${name}.safetensors`, multi ? { seed, result: done! } : undefined));
    shipped.push({ setting: row.name, file, card, ...(multi ? { seed, row: done! } : {}) });
  }
  return shipped;
}
