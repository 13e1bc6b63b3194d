// The grid's per-row pictures, after rows finish: each finished training row's metrics and
// summary copied to experiments/results/rows/<row>/ with its report there (report.md with the
// bottleneck table; descent, capacity, bits and training plots as SVG), and one capacity-dynamics
// figure of every finished GDNSQ goal row (experiments/results/capacity.png).
// usage: node dist/experiments/grid/figures.js [GRID_OUT] [RESULTS_DIR]   (runs/grid, experiments/results)
import * as fs from 'fs';
import * as path from 'path';
import { loadGridConfig, readSeedResult, rowDir } from '../../src/experiment';
import { readRun, writeReport, capacitySpec, renderSvg, writeSvgPng } from '../../src/report';

async function main(): Promise<void> {
  const out = process.argv[2] ?? path.join('runs', 'grid');
  const results = process.argv[3] ?? path.join('experiments', 'results');
  const config = loadGridConfig(path.join('experiments', 'grid', 'fashion-mnist-resnet20.json'));
  const capacity: { label: string; run: ReturnType<typeof readRun> }[] = [];
  for (const row of config.rows) {
    if (row.method !== 'gdnsq' && row.method !== 'fixed') continue;
    const dest = path.join(results, 'rows', row.name);
    const goal = row.method === 'gdnsq' && row.name in config.compare.goals;
    // A row with several seeds: the report of its run at the config's seed (the row's own folder).
    if (!readSeedResult(out, row, config.seed, config)) {
      // Not re-run under this output folder: the capacity figure keeps its published run.
      if (goal && fs.existsSync(path.join(dest, 'metrics.jsonl'))) capacity.push({ label: row.name, run: readRun(dest) });
      continue;
    }
    fs.mkdirSync(dest, { recursive: true });
    for (const f of ['metrics.jsonl', 'summary.json']) fs.copyFileSync(path.join(rowDir(out, row.name), f), path.join(dest, f));
    // The report's PNGs are for READMEs; the per-row pages link the SVGs.
    for (const f of await writeReport(dest)) {
      if (f.endsWith('.png')) fs.rmSync(f);
      else console.log(f);
    }
    if (goal) capacity.push({ label: row.name, run: readRun(dest) });
  }
  // The combined figure as PNG only (its SVG is over 1 MB; each row's SVG is in rows/<row>/).
  if (capacity.length) {
    for (const f of writeSvgPng(path.join(results, 'capacity'), await renderSvg(capacitySpec(capacity)))) {
      if (f.endsWith('.svg')) fs.rmSync(f);
      else console.log(f);
    }
  }
}

main().catch((e: Error) => { console.error(`figures: ${e.message}`); process.exit(1); });
