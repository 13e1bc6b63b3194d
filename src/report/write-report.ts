// Writes the report of a run folder into that folder: the SVG plots and report.md.
import * as fs from 'fs';
import * as path from 'path';
import { readRun } from './run';
import { bitsSpec, trainingSpec, renderSvg } from './plots';
import { reportMarkdown } from './markdown';
import { descentSpec, hasPlan } from './descent';

/** Returns the paths written: the plots, then report.md. */
export async function writeReport(dir: string): Promise<string[]> {
  const run = readRun(dir);
  const specs: Record<string, ReturnType<typeof trainingSpec>> = run.kind === 'quantize'
    ? { 'bits.svg': bitsSpec(run), 'training.svg': trainingSpec(run) }
    : { 'training.svg': trainingSpec(run) };
  if (run.kind === 'quantize' && hasPlan(run)) {
    const s = run.summary;
    specs['descent.svg'] = descentSpec([{ label: `W${s?.wbits ?? '?'}A${s?.abits ?? '?'}`, run, plannedStep: s?.planned_step ?? null, reachedStep: s?.reached_step ?? null }]);
  }
  const written: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, await renderSvg(spec));
    written.push(file);
  }
  const md = path.join(dir, 'report.md');
  fs.writeFileSync(md, reportMarkdown(run, Object.keys(specs)));
  return [...written, md];
}
