// The capacity-dynamics figure of the descent experiment (capacity.svg, capacity.png): every
// quantized layer's true bits against the step, and its lag behind the plan, for the W2A2 and
// W1A1 rows, drawn from the metrics files committed here.
// usage: node dist/experiments/descent/capacity.js [DIR]   (default experiments/descent)
import * as path from 'path';
import { readRunFiles, capacitySpec, renderSvg, writeSvgPng } from '../../src/report';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? path.join('experiments', 'descent');
  const runs = ['W2A2', 'W1A1'].map((label) => ({ label, run: readRunFiles(path.join(dir, `${label}.metrics.jsonl`), path.join(dir, `${label}.summary.json`)) }));
  for (const f of writeSvgPng(path.join(dir, 'capacity'), await renderSvg(capacitySpec(runs)))) console.log(f);
}

main().catch((e: Error) => { console.error(`capacity: ${e.message}`); process.exit(1); });
