// report.md: one page saying what ran, its key numbers, the per-layer bit-widths of a quantize
// run, and the plots (embedded by path relative to the run folder).
import * as path from 'path';
import { Run, LayerBits, quantizerRole } from './run';
import { bottlenecks, bottleneckSection } from './bottlenecks';

const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);
const fixed = (x: number | undefined, d = 2): string => (x === undefined ? '–' : x.toFixed(d));
const yesNo = (x: boolean | undefined): string => (x === undefined ? '–' : x ? 'yes' : 'no');

export function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

const ROLE_COLUMNS: [string, string][] = [['weight', 'weights'], ['bias', 'biases'], ['act', 'activations']];

/** One row per layer, one "true / target" column per quantizer role; ⚠ marks a true width over target. */
export function layerTable(layers: Record<string, LayerBits>): string[] {
  const rows = new Map<string, Map<string, LayerBits>>();
  for (const [name, b] of Object.entries(layers)) {
    const { layer, role } = quantizerRole(name);
    if (!rows.has(layer)) rows.set(layer, new Map());
    rows.get(layer)!.set(role, b);
  }
  const roles = ROLE_COLUMNS.filter(([r]) => [...rows.values()].some((m) => m.has(r)));
  // Per-channel weights also show the narrowest channel (true_min), where a 0 is a constant channel.
  const cell = (b: LayerBits | undefined): string => (b
    ? `${b.true.toFixed(2)}${b.true_min !== undefined && b.true_min !== b.true ? ` (min ${b.true_min.toFixed(2)})` : ''} / ${b.target}${b.true > b.target + 1e-9 ? ' ⚠' : ''}` : '–');
  return table(['layer', ...roles.map(([, h]) => `${h}: true / target`)], [...rows].map(([layer, m]) => [`\`${layer}\``, ...roles.map(([r]) => cell(m.get(r)))]));
}

function settingsLine(settings: Record<string, unknown> | undefined): string[] {
  if (!settings) return [];
  return [`Settings: ${Object.entries(settings).map(([k, v]) => `\`${k}=${String(v)}\``).join(' ')}`, ''];
}

function quantizeReport(run: Run, plots: string[]): string[] {
  const s = run.summary;
  const last = run.epochs[run.epochs.length - 1];
  const wa = s?.wbits !== undefined ? `W${s.wbits}A${s.abits}` : '';
  const out = [`# GDNSQ ${wa} quantization: \`${path.basename(path.resolve(run.dir))}\``, ''];
  if (s) {
    out.push(`Fine-tuned \`${typeof s.teacher === 'object' && s.teacher ? `${s.teacher.file}\` (SHA-256 ${s.teacher.sha256.slice(0, 12)}…)` : `${s.teacher}\``} on ${s.dataset} with the ${s.method} method and ${s.loss} distillation loss; `
      + `${s.epochs_run} epochs, ${s.steps} steps, ${duration(s.wall_seconds)}. Checkpoint: \`${s.checkpoint}\`.`, '');
    out.push(...settingsLine(s.settings));
    if (s.fp_layers?.length) out.push(`Kept in floating point: ${s.fp_layers.map((l) => `\`${l.name}\` (${l.reason})`).join(', ')}.`, '');
    out.push('## Key numbers', '', ...table(['', ''], [
      ['FP teacher top-1 (test)', pct(s.fp_top1)],
      ['quantized top-1 (test)', pct(s.quant_top1)],
      ['Δ top-1', s.delta_pt === undefined ? '–' : `${s.delta_pt >= 0 ? '+' : ''}${s.delta_pt.toFixed(2)} pt`],
      ['converged (every true width ≤ target)', yesNo(s.converged)],
      ['max true bits W / A', `${fixed(s.wbits_max)} / ${fixed(s.abits_max)}`],
      ...(s.wbits_min !== undefined ? [['min true bits W / A (narrowest channel, least activation)', `${fixed(s.wbits_min)} / ${fixed(s.abits_min)}`]] : []),
      ...(s.mean_bits ? [[`mean bits W / A (integer widths, size-weighted)${s.mean_bits.budget ? `; budget ${s.mean_bits.budget.wBits ?? '–'} / ${s.mean_bits.budget.aBits ?? '–'}` : ''}`,
        `${fixed(s.mean_bits.w, 3)} / ${fixed(s.mean_bits.a, 3)}`]] : []),
      ['epochs / steps', `${s.epochs_run ?? '–'} / ${s.steps ?? '–'}`],
      ['wall time', duration(s.wall_seconds)],
    ]), '');
  } else {
    out.push('_No summary.json: the run has not finished. Numbers below are from its last epoch record._', '');
    if (last) out.push(...table(['', ''], [
      ['epoch / step', `${last.epoch} / ${last.step}`], ['validation top-1', pct(last.val_top1)],
      ['converged', yesNo(last.converged)], ['max true bits W / A', `${fixed(last.w_true_max)} / ${fixed(last.a_true_max)}`],
    ]), '');
  }
  out.push(...plots.map((p) => `![${path.basename(p, '.svg')}](${p})`), '');
  out.push(...collapseLines(run));
  const layers = s?.layers ?? last?.layers;
  if (layers) out.push(`## Per-layer bits (${s?.layers ? 'final checkpoint' : `epoch ${last.epoch}`})`, '', ...layerTable(layers), '');
  out.push(...bottleneckSection(bottlenecks(run)));
  return out;
}

/** Validation top-1 may fall this much (fraction) from one epoch to the next before the report calls it a collapse. */
export const COLLAPSE_DROP = 0.1;

/** Epochs whose validation top-1 fell more than `drop` below the previous epoch's. */
export function collapseEpochs(run: Run, drop = COLLAPSE_DROP): { epoch: number; from: number; to: number }[] {
  const out: { epoch: number; from: number; to: number }[] = [];
  const ep = run.epochs.filter((e) => typeof e.val_top1 === 'number');
  for (let i = 1; i < ep.length; i++) {
    if (ep[i].val_top1! < ep[i - 1].val_top1! - drop) out.push({ epoch: ep[i].epoch, from: ep[i - 1].val_top1!, to: ep[i].val_top1! });
  }
  return out;
}

function collapseLines(run: Run): string[] {
  const c = collapseEpochs(run);
  if (!c.length) return [`No collapse: no epoch's validation top-1 fell more than ${100 * COLLAPSE_DROP} pt below the previous epoch's.`, ''];
  return [`**Collapse** (validation top-1 more than ${100 * COLLAPSE_DROP} pt below the previous epoch's): ${c.map((x) => `epoch ${x.epoch} (${pct(x.from)} → ${pct(x.to)})`).join(', ')}.`, ''];
}

function trainReport(run: Run, plots: string[]): string[] {
  const s = run.summary;
  const last = run.epochs[run.epochs.length - 1];
  const out = [`# FP training: \`${path.basename(path.resolve(run.dir))}\``, ''];
  const seconds = s?.train_seconds ?? run.epochs.reduce((a, e) => a + (e.seconds ?? 0), 0);
  if (s) {
    out.push(`Trained ${s.model} on ${s.dataset} for ${s.epochs_run} epochs (best on validation: epoch ${s.best_epoch}). Checkpoint: \`${s.checkpoint}\`.`, '');
    out.push('## Key numbers', '', ...table(['', ''], [
      ['validation top-1 (best epoch)', pct(s.val_top1)],
      ['test top-1', pct(s.test_top1)],
      ['test top-5', pct(s.test_top5)],
      ['test loss', fixed(s.test_loss, 4)],
      ['epochs / steps', `${s.epochs_run ?? '–'} / ${last?.step ?? '–'}`],
      ['training time', duration(seconds)],
    ]), '');
  } else {
    out.push('_No summary.json: the run has not finished._', '');
    if (last) out.push(...table(['', ''], [['epoch / step', `${last.epoch} / ${last.step}`], ['validation top-1', pct(last.val_top1)], ['training time', duration(seconds)]]), '');
  }
  out.push(...plots.map((p) => `![${path.basename(p, '.svg')}](${p})`), '');
  return out;
}

/** The Markdown page; `plots` are file names inside the run folder. */
export function reportMarkdown(run: Run, plots: string[]): string {
  return `${(run.kind === 'quantize' ? quantizeReport(run, plots) : trainReport(run, plots)).join('\n').trimEnd()}\n`;
}
