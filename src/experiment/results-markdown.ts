// The results table as Markdown (experiments/results/*.md): every row's test top-1 and its drop
// against the FP row, set beside the paper's published drop for the same setting and the
// goal for it, then one line per goal saying whether it holds, is missed (with its numbers)
// or is not run yet. A row run with several seeds shows its mean ± the sample sd; goals are
// judged on the mean.
import { duration } from '../report';
import { Compare } from './config';
import { ResultRow, Results } from './results';

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const bitsText = (b: number): string => (b >= 32 ? 'fp' : b.toFixed(2));
const multi = (r: ResultRow): boolean => (r.top1_seeds?.length ?? 0) > 1;
/** Top-1 of a row: `93.72%`, or for several seeds `93.72 ± 0.11 % (3 seeds)` (mean ± sample sd), or `93.72% (seed 3)`. */
function top1Text(r: ResultRow): string {
  if (multi(r)) return `${(100 * r.top1).toFixed(2)} ± ${(100 * (r.top1_sd ?? 0)).toFixed(2)} % (${r.top1_seeds!.length} seeds)`;
  return r.seeds ? `${pct(r.top1)} (seed ${r.seeds[0]})` : pct(r.top1);
}
/** Mean ± sd without the seed count (goal details). */
const meanText = (r: ResultRow): string => (multi(r) ? `${(100 * r.top1).toFixed(2)} ± ${(100 * (r.top1_sd ?? 0)).toFixed(2)} %` : pct(r.top1));

export interface GoalCheck { goal: string; state: 'holds' | 'missed' | 'not run'; detail: string }

/** Drop in points of `row` against the FP row (negative: worse). */
function drop(row: ResultRow, fp: ResultRow): number {
  return 100 * (row.top1 - fp.top1);
}

export function checkGoals(results: Results, compare: Compare): GoalCheck[] {
  const by = new Map(results.rows.map((r) => [r.setting, r]));
  const fp = by.get('FP');
  const out: GoalCheck[] = [];
  for (const [setting, maxDrop] of Object.entries(compare.goals)) {
    const goal = `${setting}: drop ≤ ${maxDrop} pt`;
    const r = by.get(setting);
    if (!r || !fp) { out.push({ goal, state: 'not run', detail: !fp ? 'no FP row' : 'row not run' }); continue; }
    const d = drop(r, fp);
    const ok = -d <= maxDrop + 1e-9 && r.converged;
    out.push({ goal, state: ok ? 'holds' : 'missed', detail: `${multi(r) ? `mean ${top1Text(r)}` : pct(r.top1)}, ${signed(d)} pt${r.converged ? '' : ', not converged'}` });
  }
  for (const [a, b] of Object.entries(compare.beats)) {
    const goal = `${a} above ${b}`;
    const ra = by.get(a), rb = by.get(b);
    if (!ra || !rb) { out.push({ goal, state: 'not run', detail: `${!ra ? a : b} not run` }); continue; }
    const means = multi(ra) || multi(rb) ? 'means ' : '';
    out.push({ goal, state: ra.top1 > rb.top1 ? 'holds' : 'missed', detail: `${means}${meanText(ra)} vs ${meanText(rb)}, gap ${signed(100 * (ra.top1 - rb.top1))} pt` });
  }
  const gdnsq = results.rows.filter((r) => r.method === 'gdnsq');
  if (gdnsq.length) {
    const bad = gdnsq.filter((r) => !r.converged);
    out.push({ goal: 'every GDNSQ row converged (true bits ≤ target)', state: bad.length ? 'missed' : 'holds',
      detail: bad.length ? `not converged: ${bad.map((r) => `${r.setting} (W ${bitsText(r.wbits_max)}, A ${bitsText(r.abits_max)})`).join(', ')}` : `${gdnsq.length} rows` });
  }
  return out;
}

export interface MarkdownOptions {
  title: string;
  compare: Compare;
  /** How model_bytes was measured, said under the table. */
  sizeNote?: string;
  /** A line naming how the results were made (e.g. the grid command). */
  source?: string;
  /** The config's seed: the one run of the rows without seeds (named in the seeds note). */
  configSeed?: number;
}

/** One line on the rows run with several seeds (grouped by their seeds), or null when none was. */
export function seedsNote(results: Results, configSeed?: number): string | null {
  const groups = new Map<string, string[]>();
  for (const r of results.rows.filter(multi)) {
    const k = r.seeds!.join(', ');
    groups.set(k, [...(groups.get(k) ?? []), r.setting]);
  }
  if (!groups.size) return null;
  const and = (xs: string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  const parts = [...groups].map(([seeds, rows]) => `${and(rows)}: ${seeds.split(', ').length} seeds (${seeds}) ${rows.length > 1 ? 'each' : ''}`.trimEnd());
  return `Seeds: ${parts.join('; ')}; the other rows one run${configSeed === undefined ? '' : ` (seed ${configSeed})`}. ` +
    'Top-1 of a row with several seeds is the mean over its seeds, ± their sample standard deviation (n − 1); Δ and goals use the mean.';
}

export function resultsMarkdown(results: Results, o: MarkdownOptions): string {
  const fp = results.rows.find((r) => r.setting === 'FP');
  const paper = o.compare.paper;
  const header = ['setting', 'method', 'top-1 (test)', 'Δ vs FP (pt)', 'goal (pt)', ...(paper ? [`paper Δ (pt), ${paper.label}`] : []),
    'true bits W / A (max)', 'mean bits W / A', 'converged', 'size (KiB)', 'epochs', 'wall'];
  const lines = [`# ${o.title}`, ''];
  if (o.source) lines.push(o.source, '');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
  for (const r of results.rows) {
    const d = fp && r !== fp ? drop(r, fp) : null;
    const goal = o.compare.goals[r.setting];
    const goalCell = goal === undefined ? '' : d === null ? `≥ −${goal}` : `≥ −${goal} ${-d <= goal + 1e-9 && r.converged ? '✓' : '✗'}`;
    const p = paper ? (r.setting === 'FP' ? pct(paper.fp_top1) : paper.drop_pt[r.setting] !== undefined ? signed(paper.drop_pt[r.setting]) : '') : null;
    lines.push(`| ${[
      r.setting, r.method, top1Text(r), d === null ? '' : signed(d), goalCell, ...(p === null ? [] : [p]),
      `${bitsText(r.wbits_max)} / ${bitsText(r.abits_max)}`, r.wbits_mean === undefined || r.abits_mean === undefined ? '–' : `${bitsText(r.wbits_mean)} / ${bitsText(r.abits_mean)}`, r.method === 'fp' ? '–' : r.converged ? 'yes' : 'no',
      r.model_bytes === null ? '–' : (r.model_bytes / 1024).toFixed(1), String(r.epochs), duration(r.wall_s),
    ].join(' | ')} |`);
  }
  lines.push('');
  const seeds = seedsNote(results, o.configSeed);
  if (seeds) lines.push(seeds, '');
  if (o.sizeNote) lines.push(o.sizeNote, '');
  const goals = checkGoals(results, o.compare);
  if (goals.length) {
    lines.push('## Goals', '');
    for (const g of goals) lines.push(`- ${g.state === 'holds' ? '✓' : g.state === 'missed' ? '✗' : '…'} ${g.goal}: ${g.state} (${g.detail})`);
    lines.push('');
  }
  return lines.join('\n');
}
