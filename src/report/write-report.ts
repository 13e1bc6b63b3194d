// Writes the report of a run folder into that folder: the plots (SVG, and PNG beside each) and
// report.md.
import * as path from 'path';
import * as fs from 'fs';
import type { TopLevelSpec } from 'vega-lite';
import { readRun } from './run';
import { bitsSpec, trainingSpec, renderSvg } from './plots';
import { reportMarkdown } from './markdown';
import { descentSpec, hasPlan } from './descent';
import { capacitySpec } from './capacity';
import { writeSvgPng } from './png';

/** Returns the paths written: each plot's SVG and PNG, then report.md. */
export async function writeReport(dir: string): Promise<string[]> {
  const run = readRun(dir);
  const specs: Record<string, TopLevelSpec> = run.kind === 'quantize'
    ? { bits: bitsSpec(run), training: trainingSpec(run) }
    : { training: trainingSpec(run) };
  const s = run.summary;
  const label = `W${s?.wbits ?? '?'}A${s?.abits ?? '?'}`;
  if (run.kind === 'quantize' && hasPlan(run)) {
    specs.descent = descentSpec([{ label, run, plannedStep: s?.planned_step ?? null, reachedStep: s?.reached_step ?? null }]);
  }
  if (run.kind === 'quantize' && run.steps.some((x) => x.layers)) specs.capacity = capacitySpec([{ label, run }]);
  const written: string[] = [];
  for (const [name, spec] of Object.entries(specs)) written.push(...writeSvgPng(path.join(dir, name), await renderSvg(spec)));
  const md = path.join(dir, 'report.md');
  fs.writeFileSync(md, reportMarkdown(run, Object.keys(specs).map((n) => `${n}.svg`)));
  return [...written, md];
}
