// One rank (or the single-rank reference) of the GDNSQ equivalence test: finetune() of a random
// SmallCNN teacher to W3A3 with frozen BN (eval-mode statistics: no per-rank batch statistics)
// and the deterministic LSQ gradient (the noise variant draws random signs, whose stream
// depends on the per-rank batch shape); prints parameters, objective state and bits.
import * as fs from 'fs';
import * as path from 'path';
import { manualSeed, scope } from '../../src/engine';
import { createModel } from '../../src/models';
import { finetune, loadTrainingState } from '../../src/train';
import { joinFromEnv } from '../../src/distributed';
import { synthetic } from './synthetic';

async function main(): Promise<void> {
  const [out, batch, epochs] = [process.argv[2], ...process.argv.slice(3, 5).map(Number)];
  const schedule = (process.argv[5] ?? 'kappa') as 'kappa' | 'planned';
  const dist = joinFromEnv({ timeoutMs: 30_000 });
  manualSeed(11);
  const teacher = createModel('smallcnn', { inChannels: 1, numClasses: 10 });
  teacher.eval();
  const card = { model: 'smallcnn', args: { ...teacher.config }, dataset: 'synthetic', normalize: { mean: [0.5], std: [0.25] } };
  const outDir = path.join(out, `rank${dist?.rank ?? 0}`);
  fs.mkdirSync(outDir, { recursive: true });
  const s = await finetune({
    teacher, teacherCard: card, train: synthetic(66, 3), val: synthetic(20, 4), epochs, batchSize: batch, schedule,
    quantize: { wBits: 3, aBits: 3, method: 'lsq', actMethod: 'lsq', bn: 'freeze', learnLower: false }, warmupSteps: 2, lr: 3e-3, qlr: 0.05, startBits: 4,
    calibBatches: 2, augment: { cropPadding: 1, hflip: true }, seed: 2, outDir, progress: false, logEvery: 1, onMessage: () => {}, dist,
  });
  const state = dist && !dist.isMain ? null : loadTrainingState<{ hooks: { objective: unknown } }>(path.join(outDir, 'resume.safetensors'));
  const best = dist && !dist.isMain ? null : loadTrainingState<unknown>(path.join(outDir, 'resume.safetensors')).model;
  const params = best ? scope(() => Object.fromEntries(Object.entries(best).map(([k, t]) => [k, t.toArray()]))) : null;
  process.stdout.write(`${JSON.stringify({ steps: s.steps, layers: s.layers, objective: state?.trainer.hooks.objective ?? null, params })}\n`);
  dist?.group.destroy();
}
void main();
