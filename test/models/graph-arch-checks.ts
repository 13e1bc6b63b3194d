// The checks mobilenetv2.test.ts and vit.test.ts run on a registry architecture written as a
// graph model: a few training steps, ONNX Runtime on the FP and on a W4A4 QDQ export, and
// PyTorch (test/models/torch_models.py) on the saved state dict. Fashion-MNIST test images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Tensor, F, noGrad, scope, manualSeed } from '../../src/engine';
import { saveSafetensors } from '../../src/engine/safetensors';
import { loadDataset, slice, BatchLoader, ImageDataset } from '../../src/data';
import { Model, createModel, GraphModel } from '../../src/models';
import { Adam } from '../../src/optim';
import { quantize, calibrate, quantizedLayers, QuantizeReport } from '../../src/quant';
import { exportOnnx, writeOnnx, compareOnnx, gdnsqLogits } from '../../src/export/onnx';
import { saveModelFile, ModelCard } from '../../src/train';
import { loadModel } from '../../src/cli/model-file';
import { ortLogits } from '../export/onnx-fixtures';

const root = path.resolve(__dirname, '..', '..', '..');
const PY = '/usr/bin/python3';
export const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
export const torchSkip = hasTorch ? false : 'python3-torch is not installed (apt-get install python3-torch)';

/**
 * Largest |logit difference| allowed between gdnsq (libtorch) and ONNX Runtime or PyTorch on the
 * same FP weights: float32 summation order differs between their kernels (measured ≤ 2.4e-7 on
 * these models here, logits of size ~1; 40× that leaves room for other CPUs' kernels).
 */
export const FP_TOL = 1e-5;

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-arch-'));
}

/** The first n Fashion-MNIST test images: the dataset slice, pixels in [0, 1] and the normalization. */
export function testImages(n: number): { data: ImageDataset; pixels: Float32Array; normalize: { mean: number[]; std: number[] } } {
  const all = loadDataset('fashion-mnist');
  const data = slice(all.test, 0, n);
  const normalize = { mean: all.info.mean, std: all.info.std };
  const pixels = scope(() => Float32Array.from(new BatchLoader({ dataset: data, batchSize: n }).batch(0, 0).x.data() as Float32Array));
  return { data, pixels, normalize };
}

const normalized = (t: ReturnType<typeof testImages>): Tensor =>
  Tensor.from(t.pixels, [t.data.n, 1, 28, 28]).sub(t.normalize.mean[0]).div(t.normalize.std[0]);

/** Adam steps on one batch of the images; returns the loss before each step and after the last. */
export function trainSteps(model: Model, t: ReturnType<typeof testImages>, steps: number, lr: number): number[] {
  const opt = new Adam(model.parameters(), { lr });
  const y = Tensor.from(Array.from(t.data.labels), [t.data.n], 'int64').keep();
  const losses: number[] = [];
  model.train(true);
  try {
    for (let i = 0; i <= steps; i++) {
      scope(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(normalized(t)), y);
        losses.push(loss.item());
        if (i < steps) { loss.backward(); opt.step(); }
      });
    }
  } finally {
    y.dispose();
    opt.dispose();
  }
  model.train(false);
  return losses;
}

/** Every step lowered the loss, and the last loss is at most `factor` × the first. */
export function assertLossFalls(losses: number[], factor: number): void {
  const msg = `losses ${losses.map((l) => l.toFixed(3)).join(' → ')}`;
  assert.ok(losses.every((l, i) => i === 0 || l < losses[i - 1]), msg);
  assert.ok(losses[losses.length - 1] <= factor * losses[0], msg);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** FP export → ONNX Runtime: the logits equal gdnsq's within FP_TOL; returns the largest difference. */
export async function checkFpOnnx(model: Model, t: ReturnType<typeof testImages>): Promise<number> {
  const e = exportOnnx(model, { normalize: t.normalize });
  const shape = [t.data.n, 1, 28, 28];
  const d = maxDiff(await ortLogits(e.bytes, t.pixels, shape), gdnsqLogits(model, t.pixels, shape, t.normalize));
  assert.ok(d <= FP_TOL, `FP export: max |logit difference| ORT vs gdnsq ${d}`);
  return d;
}

/**
 * quantize() at W4A4 (defaults), calibrated at 4 bits on the images, exported as QDQ: ONNX Runtime
 * gives gdnsq eval's top-1 (an activation within float rounding of a step boundary may flip its
 * code and, rarely, one image's prediction). The model is left quantized; returns what quantize() did.
 */
export async function checkQdqOnnx(model: Model, t: ReturnType<typeof testImages>): Promise<QuantizeReport> {
  const report = quantize(model, { wBits: 4, aBits: 4 });
  scope(() => calibrate(model, [normalized(t)], { startBits: 4 }));
  for (const [, l] of quantizedLayers(model)) l.weight_quant.calibrateWeight(l.weight, 4);
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'w4a4.onnx');
    const e = writeOnnx(file, model, { normalize: t.normalize });
    assert.ok(e.quantizers.filter((q) => q.mode === 'quantized').length >= 2 * quantizedLayers(model).length);
    const c = await compareOnnx(file, model, t.data, t.normalize, { batchSize: t.data.n });
    assert.ok(c.samePredictions >= t.data.n - 1, `W4A4 QDQ: same predictions ${c.samePredictions}/${t.data.n}`);
    assert.ok(Math.abs(c.top1Onnx - c.top1Gdnsq) <= 1 / t.data.n, `W4A4 QDQ: top-1 ORT ${c.top1Onnx} vs gdnsq ${c.top1Gdnsq}`);
    return report;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Saves the model as a gdnsq model file, checks that it rebuilds from its card alone, and has
 * PyTorch's definition load the state dict (strict) and compute the logits on the images; returns
 * the largest difference to gdnsq's.
 */
export function checkTorch(model: Model, t: ReturnType<typeof testImages>): number {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'model.safetensors'), input = path.join(dir, 'x.safetensors');
    const card: ModelCard = { model: model.config.name, args: { ...model.config }, dataset: 'fashion-mnist', normalize: t.normalize };
    saveModelFile(file, model.stateDict(), card);
    scope(() => saveSafetensors(input, { x: normalized(t) }));
    const ours = gdnsqLogits(model, t.pixels, [t.data.n, 1, 28, 28], t.normalize);
    const rebuilt = loadModel(file).model;
    try {
      assert.equal(maxDiff(gdnsqLogits(rebuilt, t.pixels, [t.data.n, 1, 28, 28], t.normalize), ours), 0, 'the checkpoint rebuilds another model');
    } finally {
      rebuilt.dispose();
    }
    const py = spawnSync(PY, [path.join(root, 'test', 'models', 'torch_models.py'), file, input], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.equal(py.status, 0, py.stderr);
    const theirs = (JSON.parse(py.stdout) as number[][]).flat();
    const d = maxDiff(theirs, ours);
    assert.ok(d <= FP_TOL, `PyTorch: max |logit difference| ${d}`);
    return d;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs fn on a fresh model and disposes it whatever happens. */
export async function withModel<T>(make: () => Model, fn: (m: Model) => T | Promise<T>): Promise<T> {
  const m = make();
  try {
    return await fn(m);
  } finally {
    m.dispose();
  }
}

/** Eval-mode forward of random inputs [n, ...shape]: the logits' shape. */
export function outputShape(m: Model, n: number, shape: number[]): number[] {
  return scope(() => noGrad(() => m.eval().forward(Tensor.randn([n, ...shape]))).shape);
}

/**
 * Registers the test that a few Adam steps lower the loss of a fresh `arch` (1×28×28) on 32 images
 * (every step; the last at most `factor` × the first), and that with its trained BatchNorm
 * statistics / weights the FP export in ORT and the checkpoint in PyTorch give its logits.
 */
export function testTrainingAndExport(arch: string, factor: number): void {
  test(`${arch}: a few Adam steps reduce the loss on a small batch; FP export in ORT and the checkpoint in PyTorch give its logits`, async (t) => {
    manualSeed(1);
    const images = testImages(32);
    await withModel(() => createModel(arch, { inChannels: 1 }), async (m) => {
      assertLossFalls(trainSteps(m, images, 6, 2e-3), factor);
      await checkFpOnnx(m, images);
      await t.test('PyTorch (test/models/torch_models.py) loads the state dict strictly and gives the same logits', { skip: torchSkip }, () => {
        checkTorch(m, images);
      });
    });
  });
}

/** A fresh `arch` after two training steps, through checkQdqOnnx (W4A4 in ORT); `check` gets the quantized model and what quantize() did. */
export async function quantizedCase(arch: string, check: (m: Model, r: QuantizeReport) => void): Promise<void> {
  manualSeed(2);
  const images = testImages(32);
  await withModel(() => createModel(arch, { inChannels: 1 }), async (m) => {
    trainSteps(m, images, 2, 2e-3);
    check(m, await checkQdqOnnx(m, images));
  });
}

/**
 * A fresh `arch` for 1×28×28 images with 10 classes and for 3×32×32 (the default size) with 100:
 * a GraphModel with the config that rebuilds it, logits of the right shape, and the parameters of
 * `params(inChannels, numClasses, imageSize)`; `more` checks the first model further.
 */
export async function checkSizes(arch: string, params: (c: number, k: number, size: number) => number, more: (m: Model) => void): Promise<void> {
  manualSeed(0);
  for (const [c, size, k] of [[1, 28, 10], [3, 32, 100]]) {
    await withModel(() => createModel(arch, c === 1 ? { inChannels: 1, numClasses: k } : { numClasses: k }), (m) => {
      assert.ok(m instanceof GraphModel);
      assert.deepEqual(m.config, { name: arch, inChannels: c, numClasses: k, imageSize: size });
      assert.deepEqual(outputShape(m, 2, [c, size, size]), [2, k]);
      assert.equal(m.numParameters(), params(c, k, size));
      if (c === 1) more(m);
    });
  }
}
