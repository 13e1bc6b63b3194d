// One rank (or the single-rank reference) of the FP equivalence test: a small model without
// BatchNorm (per-rank batch statistics would differ from the global batch's), SGD with
// momentum, crop+flip augmentation; prints the trained parameters.
import * as path from 'path';
import { F, manualSeed, scope } from '../../src/engine';
import { Sequential, Conv2d, ReLU, Flatten, Linear } from '../../src/nn';
import { BatchLoader } from '../../src/data';
import { SGD } from '../../src/optim';
import { Trainer } from '../../src/train';
import { joinFromEnv, ShardedLoader } from '../../src/distributed';
import { synthetic } from './synthetic';

async function main(): Promise<void> {
  const [out, batch, epochs, images] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
  const dist = joinFromEnv({ timeoutMs: 30_000 });
  manualSeed(5);
  const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 10));
  const n = dist?.worldSize ?? 1;
  const loader = new BatchLoader({ dataset: synthetic(images, 7), batchSize: batch * n, shuffle: true, seed: 1, augment: { cropPadding: 1, hflip: true } });
  const trainer = new Trainer({
    model, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), epochs, progress: false, dist,
    train: dist ? new ShardedLoader(loader, dist.rank, dist.worldSize) : loader,
    outDir: path.join(out, `rank${dist?.rank ?? 0}`), card: { model: 'test', args: {}, dataset: 'synthetic', normalize: { mean: [0], std: [1] } },
    hooks: { loss: (b) => { const logits = model.forward(b.x); return { loss: F.crossEntropy(logits, b.y), logits }; } },
  });
  const res = await trainer.fit();
  const params = scope(() => model.parameters().map((p) => p.toArray()));
  process.stdout.write(`${JSON.stringify({ steps: res.state.step, params })}\n`);
  dist?.group.destroy();
}
void main();
