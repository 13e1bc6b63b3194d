// `gdnsq bench quant`: one GDNSQ training step (ResNet-20 W2A2 on the 18 inner convs, synthetic
// 3×32×32, batch 128, symmetric-KL distillation with the teacher's forward, RAdam, penalty)
// against the FP training step of `bench train`, measured alternately in one run.
import { Tensor, scope, manualSeed, setNumThreads, getNumThreads } from '../src/engine';
import { createModel } from '../src/models';
import { RAdam } from '../src/optim';
import { quantize, calibrate, GdnsqObjective } from '../src/quant';
import { timeOurStep } from './train';
import { median, timeSteps } from './timing';

export interface BenchQuantOptions { json: boolean; iters: number; threads: number; batch: number; rounds: number }

/** Median seconds of one GDNSQ step. */
export function timeGdnsqStep(o: { iters: number; batch: number }): number {
  manualSeed(0);
  const teacher = createModel('resnet20', { inChannels: 3, numClasses: 10 });
  const student = createModel('resnet20', { inChannels: 3, numClasses: 10 });
  student.loadStateDict(teacher.stateDict());
  quantize(student, { wBits: 2, aBits: 2 });
  const x = Tensor.randn([o.batch, 3, 32, 32]).keep();
  const y = Tensor.randint(0, 10, [o.batch]).keep();
  scope(() => calibrate(student, [x], { maxBatches: 1 }));
  student.train();
  const named = student.namedParameters();
  const opt = new RAdam([
    { params: named.filter(([n]) => !n.includes('_quant.')).map(([, p]) => p), lr: 1e-3 },
    { params: named.filter(([n]) => n.includes('_quant.')).map(([, p]) => p), lr: 1e-2 },
  ]);
  // No warm-up: the penalty is active from the first step, as in the steady state.
  const obj = new GdnsqObjective({ student, teacher, lr: 1e-3, kappa: 2, warmupSteps: 0 });
  let s = 0;
  const step = (): void => scope(() => {
    opt.zeroGrad();
    obj.loss({ x, y }).loss.backward();
    opt.step();
    obj.afterStep(++s);
  });
  const t = timeSteps(step, o.iters);
  x.dispose(); y.dispose(); opt.dispose(); student.dispose(); teacher.dispose();
  return t;
}

export function benchQuant(o: BenchQuantOptions): void {
  setNumThreads(o.threads);
  const fp: number[] = [];
  const q: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    fp.push(timeOurStep(o));
    q.push(timeGdnsqStep(o));
  }
  const f = median(fp), g = median(q);
  const out = {
    name: 'quant', fp_img_per_s: o.batch / f, gdnsq_img_per_s: o.batch / g, step_time_ratio: g / f,
    fp_step_s: f, gdnsq_step_s: g, batch: o.batch, threads: getNumThreads(), rounds: o.rounds, iters: o.iters,
  };
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`ResNet-20 b${o.batch}: FP ${out.fp_img_per_s.toFixed(1)} img/s, GDNSQ W2A2 ${out.gdnsq_img_per_s.toFixed(1)} img/s, step time ratio ${out.step_time_ratio.toFixed(3)} (goal ≤ 1.6)`);
}
