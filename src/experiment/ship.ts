// Ships finished grid rows as models: the row's selected checkpoint copied under the models
// folder as `<teacher name>-<setting>.safetensors` (e.g. resnet20-fashion-mnist-w4a4), with a
// model card (`.md`) written from the row's result and summary: how it was made, what it scores
// against the teacher, its true bit-widths, size, and how to run it elsewhere.
import * as fs from 'fs';
import * as path from 'path';
import { GridConfig, selectRows } from './config';
import { RESULT_FILE, readRowResult, rowDir } from './row';

export interface ShippedModel { setting: string; file: string; card: string }

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

function readRow(out: string, name: string): RowFiles {
  const dir = rowDir(out, name);
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

export function modelCard(config: GridConfig, name: string, files: RowFiles, fileName: string): string {
  const r = files.result, s = files.summary;
  const top1 = r.top1 as number, fp = (r.fp_top1 ?? s?.fp_top1) as number | undefined;
  const drop = fp === undefined ? '' : `, FP teacher ${pct(fp)}: ${(100 * (top1 - fp)).toFixed(2)} pt`;
  const goal = config.compare.goals[name];
  const goalText = goal === undefined || fp === undefined ? '' : ` — goal drop ≤ ${goal} pt: ${100 * (fp - top1) <= goal && r.converged ? 'holds' : 'missed'}`;
  const bits = `weights ${r.wbits_max}, activations ${r.abits_max} (max over layers; ${r.converged ? 'converged: every layer at or below its target' : 'NOT converged'})` +
    (r.wbits_mean !== undefined ? `; size-weighted means W ${r.wbits_mean} / A ${r.abits_mean}` : '');
  const plan = s?.planned_step !== undefined ? `targets planned by step ${s.planned_step}, reached at step ${s.reached_step ?? '–'} of ${s.steps}` : '';
  const model = `models/${fileName}`;
  const rows: [string, string][] = [
    ['command', `\`${r.command}\`${r.adopted_from ? ` (this checkpoint: ${String(r.adopted_from)})` : ''}`],
    ['test top-1', `**${pct(top1)}**${drop}${goalText} (\`gdnsq eval --checkpoint ${model}\`)`],
    ...(r.val_top1 !== undefined && r.val_top1 !== null ? [['validation top-1', `${pct(r.val_top1 as number)} (selects the checkpoint: ${String(r.checkpoint ?? '')})`] as [string, string]] : []),
    ['true bits', bits],
    ['layers', layerCounts(s)],
    ['training', `${r.epochs} epochs, ${Math.round(r.wall_s as number)} s on 2 cores${plan ? `; ${plan}` : ''}`],
    ['packed', r.model_bytes === null ? 'not packable' : `${r.model_bytes} bytes (\`gdnsq export --checkpoint ${model} --format packed\`)`],
  ];
  return [
    `# ${fileName} — ${name} (${r.method}, grid row)`,
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

/** Copies each row's checkpoint to `<models>/<name>.safetensors` and writes its card beside it. */
export function shipRows(config: GridConfig, o: ShipOptions): ShippedModel[] {
  const goals = Object.keys(config.compare.goals);
  const rows = o.rows ? selectRows(config, o.rows) : config.rows.filter((r) => r.method === 'gdnsq' && goals.includes(r.name));
  fs.mkdirSync(o.models, { recursive: true });
  const shipped: ShippedModel[] = [];
  for (const row of rows) {
    if (row.method === 'fp') throw new Error(`ship: row ${row.name} is the FP teacher itself`);
    if (o.finishedOnly) {
      const done = readRowResult(o.out, row.name);
      if (!done || !done.converged) {
        o.say?.(`${row.name}: ${done ? 'not converged' : 'not finished'}, not shipped`);
        continue;
      }
    }
    const files = readRow(o.out, row.name);
    const checkpoint = path.join(rowDir(o.out, row.name), String(files.result.checkpoint));
    if (!files.result.checkpoint || !fs.existsSync(checkpoint)) throw new Error(`ship: row ${row.name} has no checkpoint file (${checkpoint})`);
    if (!files.result.converged) throw new Error(`ship: row ${row.name} did not converge (true bits W ${files.result.wbits_max} / A ${files.result.abits_max}): not shipped as a low-bit model`);
    const name = shippedName(config, row.name);
    const file = path.join(o.models, `${name}.safetensors`), card = path.join(o.models, `${name}.md`);
    // Atomic: a stopped copy never leaves a half model under the final name.
    fs.copyFileSync(checkpoint, `${file}.tmp`);
    fs.renameSync(`${file}.tmp`, file);
    fs.writeFileSync(card, modelCard(config, row.name, files, `${name}.safetensors`));
    shipped.push({ setting: row.name, file, card });
  }
  return shipped;
}
