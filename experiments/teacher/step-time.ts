// Seconds per training step at batch 128 on 1×28×28 inputs (Fashion-MNIST's shape) for the
// teacher architectures, measured in one run, interleaved (round r times every model once) so
// drift on a shared machine hits them alike. FP: forward, cross-entropy, backward, SGD with
// momentum. --quantized: the same on the W4A4-quantized model (quantize() defaults, calibrated)
// plus the frozen FP teacher's forward, i.e. the work of a GDNSQ / fixed-bit step without the
// penalty bookkeeping.
// usage: node dist/experiments/teacher/step-time.js [steps=10] [models=resnet20,mobilenetv2,vit] [--quantized]
import { Tensor, F, scope, noGrad, manualSeed, setNumThreads, getNumThreads } from '../../src/engine';
import { createModel, Model } from '../../src/models';
import { SGD } from '../../src/optim';
import { quantize, calibrate } from '../../src/quant';
import { median } from '../../bench/timing';

const args = process.argv.slice(2).filter((a) => a !== '--quantized');
const quantized = process.argv.includes('--quantized');
const steps = Number(args[0] ?? 10);
const names = (args[1] ?? 'resnet20,mobilenetv2,vit').split(',');
setNumThreads(Number(process.env.GDNSQ_THREADS ?? 1));
manualSeed(0);
const BATCH = 128;
const x = Tensor.randn([BATCH, 1, 28, 28]).keep();
const y = Tensor.randint(0, 10, [BATCH]).keep();
const runs = names.map((name) => {
  const model: Model = createModel(name, { inChannels: 1, numClasses: 10 });
  let teacher: Model | null = null;
  if (quantized) {
    teacher = createModel(name, model.config).eval();
    teacher.loadStateDict(model.stateDict());
    quantize(model, { wBits: 4, aBits: 4 });
    scope(() => calibrate(model, [x], { startBits: 4 }));
  }
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  return { name, model, teacher, opt, times: [] as number[] };
});
const step = (r: (typeof runs)[number]): number => {
  const t0 = process.hrtime.bigint();
  scope(() => {
    r.opt.zeroGrad();
    if (r.teacher) noGrad(() => r.teacher!.forward(x));
    F.crossEntropy(r.model.train().forward(x), y).backward();
    r.opt.step();
  });
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
for (const r of runs) step(r);
for (let i = 0; i < steps; i++) for (const r of runs) r.times.push(step(r));
const base = median(runs[0].times);
for (const r of runs) {
  const s = median(r.times);
  console.log(JSON.stringify({
    model: r.name, quantized, params: r.model.numParameters(), batch: BATCH, threads: getNumThreads(), steps,
    step_s: Number(s.toFixed(4)), vs_first: Number((s / base).toFixed(2)),
    // 55,000 training images (Fashion-MNIST less the 5,000 validation images) at batch 128.
    epoch_s: Math.round(s * Math.ceil(55000 / BATCH)),
  }));
}
