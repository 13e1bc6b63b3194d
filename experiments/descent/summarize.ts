// Collects the rows of experiments/descent/run.sh (mode main) or fidelity.sh (mode fidelity):
//   main:      summary.json (W4A4, W2A2, W1A1 in the shape), descent.svg (planned vs
//              measured bit-widths), <row>.metrics.jsonl and <row>.summary.json
//   fidelity:  fidelity.json (every row with its weight-range and lower-bound settings),
//              fidelity-<row>.summary.json
//   full:      the same at the main rows' 10-epoch full-data budget (rows.sh runs/descent …):
//              fidelity-full.json, fidelity-full-<row>.summary.json
// usage: node dist/experiments/descent/summarize.js main|fidelity|full RUNS_DIR OUT_DIR
import * as fs from 'fs';
import * as path from 'path';
import { readRun, descentSpec, renderSvg } from '../../src/report';

const MAIN = ['W4A4', 'W2A2', 'W1A1'];
const ARGS: Record<string, string> = {
  W4A4: '--wbits 4 --abits 4', W2A2: '--wbits 2 --abits 2', W1A1: '--wbits 1 --abits 1',
  'W2A2-detached': '--wbits 2 --abits 2 --detach-weight-range', 'W1A1-detached': '--wbits 1 --abits 1 --detach-weight-range',
  'W2A2-learn-lower': '--wbits 2 --abits 2 --learn-lower', 'W1A1-learn-lower': '--wbits 1 --abits 1 --learn-lower',
};

interface Summary {
  converged: boolean; planned_step: number | null; reached_step: number | null; quant_top1: number | null; fp_top1: number | null;
  wall_seconds: number; epochs: number; wbits_max: number; abits_max: number; holds: number; held_steps: number;
  settings: { quantize: { weightRangeGrad?: boolean; learnLower?: boolean } };
}

async function main(): Promise<void> {
  const [mode, runs, out] = process.argv.slice(2);
  if (!(mode === 'main' || mode === 'fidelity' || mode === 'full') || !runs || !out) throw new Error('usage: summarize.js main|fidelity|full RUNS_DIR OUT_DIR');
  const extra = mode === 'fidelity' ? ' --train-limit 5000 --batch-size 64' : '';
  const prefix = mode === 'main' ? '' : mode === 'fidelity' ? 'fidelity-' : 'fidelity-full-';
  const rows: Record<string, unknown>[] = [];
  const all: Record<string, unknown>[] = [];
  const plotted = [];
  for (const setting of mode === 'main' ? MAIN : Object.keys(ARGS)) {
    const dir = path.join(runs, setting);
    const file = path.join(dir, 'summary.json');
    if (!fs.existsSync(file)) { console.error(`${setting}: not run yet (${file} missing)`); continue; }
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Summary;
    const command = `gdnsq quantize --teacher models/resnet20-fashion-mnist.safetensors ${ARGS[setting]} --epochs 10${extra} --out ${runs}/${setting}`;
    const within = s.planned_step !== null && s.reached_step !== null ? Math.abs(s.reached_step - s.planned_step) <= 0.1 * s.planned_step : false;
    const row = {
      setting, epochs: s.epochs, converged: s.converged, planned_step: s.planned_step, reached_step: s.reached_step,
      reached_within_10pct: within, top1: s.quant_top1, fp_top1: s.fp_top1, wall_s: s.wall_seconds, command,
    };
    all.push({ ...row, wbits_max: s.wbits_max, abits_max: s.abits_max, holds: s.holds, held_steps: s.held_steps,
      weight_range_grad: s.settings.quantize.weightRangeGrad ?? true, learn_lower: s.settings.quantize.learnLower ?? false });
    if (mode === 'main') {
      rows.push(row);
      plotted.push({ label: setting, run: readRun(dir), plannedStep: s.planned_step, reachedStep: s.reached_step });
      fs.copyFileSync(path.join(dir, 'metrics.jsonl'), path.join(out, `${setting}.metrics.jsonl`));
    }
    fs.copyFileSync(file, path.join(out, `${prefix}${setting}.summary.json`));
  }
  if (mode === 'main') {
    fs.writeFileSync(path.join(out, 'summary.json'), `${JSON.stringify({ rows }, null, 2)}\n`);
    if (plotted.length) fs.writeFileSync(path.join(out, 'descent.svg'), await renderSvg(descentSpec(plotted)));
  } else {
    fs.writeFileSync(path.join(out, `${prefix.replace(/-$/, '')}.json`), `${JSON.stringify({ rows: all }, null, 2)}\n`);
  }
  console.log(JSON.stringify({ rows: all }, null, 1));
}

main().catch((e: Error) => { console.error(`summarize: ${e.message}`); process.exit(1); });
