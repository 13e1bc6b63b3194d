// `gdnsq bench train`: one FP training step of ResNet-20 (synthetic 3×32×32, batch 128, SGD
// with momentum) through the whole stack (nn modules, optimizer, scopes). If Debian's PyTorch
// is installed, the same step in eager PyTorch runs in the same benchmark for the ratio.
import * as path from 'path';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { Tensor, F, scope, manualSeed, setNumThreads, getNumThreads, torchVersion } from '../src/engine';
import { createModel } from '../src/models';
import { SGD } from '../src/optim';
import { packageRoot } from '../src/engine/native';
import { timeSteps } from './timing';

export interface BenchTrainOptions { json: boolean; iters: number; threads: number; batch: number; torch: boolean }

/** Median seconds of one step of our stack. */
export function timeOurStep(o: { iters: number; batch: number }): number {
  manualSeed(0);
  const model = createModel('resnet20', { inChannels: 3, numClasses: 10 });
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const x = Tensor.randn([o.batch, 3, 32, 32]).keep();
  const y = Tensor.randint(0, 10, [o.batch]).keep();
  const step = (): void => scope(() => {
    opt.zeroGrad();
    F.crossEntropy(model.forward(x), y).backward();
    opt.step();
  });
  const t = timeSteps(step, o.iters);
  x.dispose(); y.dispose(); opt.dispose(); model.dispose();
  return t;
}

function torchStep(o: BenchTrainOptions): { step_s: number; img_per_s: number; torch: string } | null {
  const py = ['/usr/bin/python3', 'python3'].find((p) => p.startsWith('/') ? fs.existsSync(p) : true)!;
  const r = spawnSync(py, [path.join(packageRoot, 'bench', 'torch_train_step.py'), String(o.threads), String(o.batch), String(o.iters)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  try { return JSON.parse(r.stdout.trim().split('\n').pop()!); } catch { return null; }
}

export function benchTrain(o: BenchTrainOptions): void {
  setNumThreads(o.threads);
  // Ours before and after the PyTorch run, so slow drift on a shared machine cancels out.
  const a = timeOurStep(o);
  const ref = o.torch ? torchStep(o) : null;
  const b = timeOurStep(o);
  const step = (a + b) / 2;
  const out: Record<string, unknown> = {
    name: 'train', img_per_s: o.batch / step, step_s: step, batch: o.batch, threads: getNumThreads(), libtorch: torchVersion(),
  };
  if (ref) Object.assign(out, { torch: ref.torch, torch_img_per_s: ref.img_per_s, ratio_vs_torch: o.batch / step / ref.img_per_s });
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`train step ResNet-20 b${o.batch}: ${(o.batch / step).toFixed(1)} img/s (${(step * 1000).toFixed(1)} ms)` +
    (ref ? `; eager PyTorch ${ref.torch}: ${ref.img_per_s.toFixed(1)} img/s; ratio ${(o.batch / step / ref.img_per_s).toFixed(3)}` : '; PyTorch not installed: no reference'));
}
