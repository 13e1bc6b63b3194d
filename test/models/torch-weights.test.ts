// Weights in torchvision's layout, stored as safetensors, load into our models and give
// PyTorch's logits. The reference logits were computed offline by PyTorch 1.13 on torchvision's
// ResNet code with the same closed-form weights and input (test/models/torch-reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, manualSeed } from '../../src/engine';
import { saveSafetensors, loadSafetensors } from '../../src/engine/safetensors';
import { Model, createModel, resnet18 } from '../../src/models';

/** n values in [-1, 1): a 32-bit hash of (element j, stream k); the same as unit() in torch-reference.py. */
function unit(n: number, k: number): Float64Array {
  const out = new Float64Array(n);
  const base = Math.imul(k, 0x7f4a7c15);
  for (let j = 0; j < n; j++) {
    let h = (Math.imul(j, 0x9e3779b1) + base) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    out[j] = (h / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** State-dict entry k: weights u·√(3/fan_in), BN weights 1 + 0.2u, biases and means 0.1u, variances 1 + 0.5u. */
function closedFormWeights(names: [string, number[]][]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  names.forEach(([name, shape], k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('num_batches_tracked')) { out[name] = Tensor.full(shape, 7, 'int64'); return; }
    const u = unit(n, k);
    const v = shape.length >= 2 ? u.map((x) => x * Math.sqrt(3 / (n / shape[0])))
      : name.endsWith('running_var') ? u.map((x) => 1 + 0.5 * x)
      : name.endsWith('weight') ? u.map((x) => 1 + 0.2 * x)
      : u.map((x) => 0.1 * x);
    out[name] = Tensor.from(Float32Array.from(v), shape);
  });
  return out;
}

const input = (shape: number[]): Tensor => Tensor.from(Float32Array.from(unit(shape.reduce((a, b) => a * b, 1), 1000)), shape);

function tmpFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-models-')), name);
}

/** Writes the closed-form weights under torchvision's names, loads them back into model strictly, returns eval logits. */
function logitsFromFile(model: Model, inputShape: number[]): number[] {
  const file = tmpFile('weights.safetensors');
  try {
    scope(() => {
      const names = Object.entries(model.stateDict()).map(([k, t]): [string, number[]] => [k, t.shape]);
      saveSafetensors(file, closedFormWeights(names));
    });
    return scope(() => {
      const { tensors } = loadSafetensors(file);
      assert.deepEqual(model.loadStateDict(tensors), { missing: [], unexpected: [], mismatched: [] });
      return model.eval().forward(input(inputShape)).toArray();
    });
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

function assertClose(actual: number[], expected: number[]): void {
  assert.equal(actual.length, expected.length);
  // PyTorch printed 7 significant digits; float32 accumulation order may differ slightly.
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= 2e-5 + 2e-5 * Math.abs(expected[i]), `logit ${i}: ${a} vs PyTorch ${expected[i]}`));
}

test('ResNet-20 (CIFAR, option B) with torchvision-named weights matches PyTorch', () => {
  manualSeed(0);
  const m = createModel('resnet20', { inChannels: 3, numClasses: 10 });
  assertClose(logitsFromFile(m, [2, 3, 32, 32]), [
    -0.4497326, 1.059479, 1.530169, -0.9310785, 0.1231028, 1.154707, 1.201127, -2.216283, -0.5214841, 1.962715,
    -0.4842485, 0.9018145, 1.369015, -0.8638567, 0.1779769, 1.180004, 1.182391, -2.061247, -0.4721945, 1.822991,
  ]);
  assert.equal(m.stateDict()['layer3.0.downsample.1.num_batches_tracked'].item(), 7);
  m.dispose();
});

test('ResNet-18 (1 channel, 10 classes) with torchvision-named weights matches PyTorch', () => {
  manualSeed(0);
  const m = resnet18({ inChannels: 1, numClasses: 10 });
  assert.equal(m.numParameters(), 11_175_370, '11,689,512 - 2·64·7·7 (stem) - 990·513 (fc)');
  assertClose(logitsFromFile(m, [2, 1, 64, 64]), [
    1.038119, -1.355831, 1.259602, -0.0358015, 1.339659, -0.9815036, -0.4035686, -0.140431, 0.9237136, 0.4361284,
    1.186267, -1.163953, 1.128977, 0.07719903, 1.021256, -1.086931, -0.3809165, -0.3224702, 0.8960961, 0.2851574,
  ]);
  m.dispose();
});

test('a trained state dict survives a safetensors round trip bit for bit', () => {
  manualSeed(1);
  const a = createModel('smallcnn', { inChannels: 2, numClasses: 4 });
  // one training step so the running statistics are not at their initial values
  scope(() => { a.forward(Tensor.randn([4, 2, 12, 12])); });
  manualSeed(2);
  const b = createModel('smallcnn', { inChannels: 2, numClasses: 4 });
  const file = tmpFile('smallcnn.safetensors');
  try {
    saveSafetensors(file, a.stateDict(), { model: JSON.stringify(a.config) });
    scope(() => {
      const { tensors, metadata } = loadSafetensors(file);
      const c = createModel(JSON.parse(metadata.model).name, JSON.parse(metadata.model));
      c.loadStateDict(tensors);
      b.loadStateDict(tensors);
      const x = Tensor.randn([3, 2, 10, 10]);
      const ya = a.eval().forward(x);
      assert.ok(b.eval().forward(x).equal(ya));
      assert.ok(c.eval().forward(x).equal(ya));
      c.dispose();
    });
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  a.dispose();
  b.dispose();
});
