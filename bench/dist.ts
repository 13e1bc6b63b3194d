// `gdnsq bench dist`: a data-parallel FP training step (ResNet-20, synthetic 3×32×32, SGD with
// momentum, one libtorch thread per rank) with 1 rank and with 2 ranks on loopback Gloo: the
// median step time and, for 2 ranks, the median time of the gradient all-reduce inside it.
// Each configuration runs in fresh worker processes, so the ranks are real processes as in
// `gdnsq train --nproc 2`.
import { spawn } from 'child_process';
import { Tensor, F, scope, manualSeed, setNumThreads } from '../src/engine';
import { createModel } from '../src/models';
import { SGD } from '../src/optim';
import { joinFromEnv, freePort } from '../src/distributed';
import { median } from './timing';

export interface BenchDistOptions { json: boolean; iters: number; batch: number; model: string; size: number }
interface WorkerResult { step_s: number; allreduce_s: number; grad_bytes: number }

function runWorker(o: BenchDistOptions): void {
  setNumThreads(1);
  const dist = joinFromEnv({ timeoutMs: 120_000 });
  manualSeed(0);
  const model = createModel(o.model, { inChannels: 3, numClasses: 10 });
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const x = Tensor.randn([o.batch, 3, o.size, o.size]).keep();
  const y = Tensor.randint(0, 10, [o.batch]).keep();
  const steps: number[] = [], reduces: number[] = [];
  for (let i = 0; i < o.iters + 2; i++) {
    const t0 = process.hrtime.bigint();
    let r = 0;
    scope(() => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      if (dist) {
        const before = dist.allreduceSeconds;
        dist.averageGradients(model.parameters(), { size: o.batch });
        r = dist.allreduceSeconds - before;
      }
      opt.step();
    });
    if (i >= 2) { steps.push(Number(process.hrtime.bigint() - t0) / 1e9); reduces.push(r); }
  }
  const gradBytes = model.parameters().reduce((s, p) => s + 4 * p.numel, 0);
  const res: WorkerResult = { step_s: median(steps), allreduce_s: median(reduces), grad_bytes: gradBytes };
  process.stdout.write(`${JSON.stringify(res)}\n`);
  dist?.group.destroy();
}

function spawnRanks(n: number, o: BenchDistOptions, port: number): Promise<WorkerResult[]> {
  const args = [__filename, 'worker', JSON.stringify(o)];
  return Promise.all(Array.from({ length: n }, (_, r) => new Promise<WorkerResult>((resolve, reject) => {
    const env = { ...process.env, GDNSQ_THREADS: '1', ...(n > 1 ? { WORLD_SIZE: String(n), RANK: String(r), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) } : { WORLD_SIZE: '1' }) };
    const c = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench dist: rank ${r} of ${n} failed: ${err.trim().split('\n').pop() ?? code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);
    });
  })));
}

/** Networks of the projection: per-link bandwidth (bytes/s) and per-message latency (s). */
export const NETWORKS = [
  { name: '10GbE', bandwidth: 1.25e9, latency: 25e-6 },
  { name: 'IB-100G', bandwidth: 12.5e9, latency: 5e-6 },
] as const;

/**
 * Ring all-reduce of S bytes over N ranks: 2(N−1) steps, each sending S/N bytes over one link
 * (reduce-scatter, then all-gather): T = 2(N−1)/N · S/B + 2(N−1)·α. The step is compute plus
 * that time (gdnsq does not overlap the all-reduce with the backward pass); per-rank batch fixed.
 */
export function projectScaling(computeS: number, gradBytes: number, ranks = [8, 64, 512]): { n: number; network: string; allreduce_s: number; step_s: number; efficiency: number }[] {
  const out = [];
  for (const net of NETWORKS) {
    for (const n of ranks) {
      const ar = (2 * (n - 1) / n) * (gradBytes / net.bandwidth) + 2 * (n - 1) * net.latency;
      out.push({ n, network: net.name, allreduce_s: ar, step_s: computeS + ar, efficiency: computeS / (computeS + ar) });
    }
  }
  return out;
}

export async function benchDist(o: BenchDistOptions): Promise<void> {
  const one = (await spawnRanks(1, o, 0))[0];
  const two = await spawnRanks(2, o, await freePort());
  const step2 = Math.max(...two.map((w) => w.step_s));
  const ar2 = Math.max(...two.map((w) => w.allreduce_s));
  const res = {
    model: o.model, image: [3, o.size, o.size], batch_per_rank: o.batch, threads_per_rank: 1, iters: o.iters, grad_bytes: one.grad_bytes,
    ranks: [{ n: 1, step_s: one.step_s }, { n: 2, step_s: step2, allreduce_s: ar2 }],
    projection: projectScaling(one.step_s, one.grad_bytes),
  };
  if (o.json) { console.log(JSON.stringify(res)); return; }
  console.log(`${o.model}, batch ${o.batch} per rank, 1 thread per rank, ${(one.grad_bytes / 1e6).toFixed(2)} MB of gradients`);
  console.log(`  1 rank : step ${(one.step_s * 1000).toFixed(1)} ms`);
  console.log(`  2 ranks: step ${(step2 * 1000).toFixed(1)} ms, of which all-reduce ${(ar2 * 1000).toFixed(1)} ms; weak-scaling efficiency ${(100 * one.step_s / step2).toFixed(0)}%`);
  console.log('  projected (ring all-reduce, no overlap; see docs/distributed.md):');
  for (const p of res.projection) console.log(`    ${String(p.n).padStart(3)} ranks, ${p.network.padEnd(7)}: all-reduce ${(p.allreduce_s * 1000).toFixed(2)} ms, step ${(p.step_s * 1000).toFixed(1)} ms, efficiency ${(100 * p.efficiency).toFixed(0)}%`);
}

if (require.main === module && process.argv[2] === 'worker') runWorker(JSON.parse(process.argv[3]) as BenchDistOptions);
