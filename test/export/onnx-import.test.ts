// ONNX import on models nobody here wrote: the fixtures of experiments/onnx-import/make-fixtures.py
// (a torchvision-style ResNet, a MobileNetV2-style net, a ViT of nn.TransformerEncoderLayer at
// opset 17 and at opset 14, where LayerNorm is its ReduceMean pattern), exported by PyTorch and
// trained briefly on Fashion-MNIST. Imported logits are compared with ONNX Runtime's on the same
// file and with PyTorch's (expected.json, written by the same script), on the first 64 test images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, noGrad, scope } from '../../src/engine';
import { loadDataset, BatchLoader } from '../../src/data';
import { loadModel } from '../../src/cli/model-file';
import { importOnnx } from '../../src/export/import-onnx';
import { exportOnnx, loadOrt } from '../../src/export/onnx';
import { GraphModel } from '../../src/models';

const root = path.resolve(__dirname, '..', '..', '..');
const FIX = path.join(root, 'test', 'fixtures', 'onnx');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-import-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Expected { images: number; models: Record<string, { logits: number[][]; top1: number[]; opset: number }> }
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Expected;
const N = expected.images;
/** float32 summation order differs between libtorch, ORT and PyTorch's kernels; measured ≤ 7e-6. */
const TOL = 1e-4;

let images: Float32Array | null = null;
function testImages(): Float32Array {
  images ??= scope(() => {
    const data = loadDataset('fashion-mnist');
    const { x } = new BatchLoader({ dataset: data.test, batchSize: N, normalize: { mean: [0], std: [1] } }).batch(0, 0);
    return Float32Array.from(x.data() as Float32Array);
  });
  return images;
}

async function ort(file: string | Uint8Array, input: Float32Array, inputName: string): Promise<Float32Array> {
  const o = loadOrt();
  const s = await o.InferenceSession.create(file);
  try {
    const out = await s.run({ [inputName]: new o.Tensor('float32', input, [N, 1, 28, 28]) });
    return Float32Array.from(Object.values(out)[0].data as Float32Array);
  } finally {
    await s.release();
  }
}

function logits(model: GraphModel, input: Float32Array): Float32Array {
  return scope(() => Float32Array.from(noGrad(() => model.eval().forward(Tensor.from(input, [N, 1, 28, 28]))).data() as Float32Array));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
const top1 = (a: ArrayLike<number>): number[] => Array.from({ length: N }, (_, i) => {
  let best = 0;
  for (let j = 1; j < 10; j++) if (a[i * 10 + j] > a[i * 10 + best]) best = j;
  return best;
});

for (const name of Object.keys(expected.models)) {
  test(`${name}: imported logits equal ONNX Runtime's and PyTorch's; the checkpoint rebuilds without the file; FP export round-trips`, async () => {
    const file = path.join(FIX, `${name}.onnx`);
    const out = path.join(dir, `${name}.safetensors`);
    const r = importOnnx({ from: file, out, dataset: 'fashion-mnist' });
    const x = testImages();
    const ours = logits(r.model, x);
    const theirs = await ort(file, x, 'input');
    const dOrt = maxDiff(ours, theirs);
    assert.ok(dOrt <= TOL, `max |logit difference| vs ORT ${dOrt}`);
    const ref = expected.models[name];
    assert.ok(maxDiff(ours, ref.logits.flat()) <= TOL, `max |logit difference| vs PyTorch ${maxDiff(ours, ref.logits.flat())}`);
    assert.deepEqual(top1(ours), ref.top1, 'top-1 differs from PyTorch\'s');
    assert.equal(r.card.model, 'graph');
    assert.deepEqual(r.card.normalize, { mean: [0], std: [1] }, 'a graph with its normalization inside takes pixels as they come');
    r.model.dispose();

    // The checkpoint alone (card + state dict) rebuilds the model, with the same logits.
    const { model } = loadModel(out);
    assert.ok(model instanceof GraphModel);
    assert.ok(maxDiff(logits(model, x), ours) === 0, 'the rebuilt model differs');
    // Exported back to ONNX (FP): ORT runs it with the same logits.
    const e = exportOnnx(model);
    assert.ok(e.opset >= ref.opset);
    const back = await ort(e.bytes, x, 'pixels');
    assert.ok(maxDiff(back, ours) <= TOL, `exported file: max |logit difference| vs gdnsq ${maxDiff(back, ours)}`);
    model.dispose();
  });
}

test('layers are modules at PyTorch\'s names where the file has them; positional tensors are parameters; the affine normalization inside the ResNet is a buffer', () => {
  const vit = importOnnx({ from: path.join(FIX, 'vit.onnx'), out: path.join(dir, 'v.safetensors') });
  const names = vit.layers.map(([n, t]) => `${n}:${t}`);
  for (const want of ['patch_embed:Conv2d', 'encoder.layers.0.self_attn.in_proj:Linear', 'encoder.layers.0.self_attn.out_proj:Linear',
    'encoder.layers.0.linear1:Linear', 'encoder.layers.1.norm2:LayerNorm', 'norm:LayerNorm', 'head:Linear']) {
    assert.ok(names.includes(want), `${want} missing from ${names.join(', ')}`);
  }
  const params = vit.model.namedParameters().map(([n]) => n);
  assert.ok(params.includes('cls_token') && params.includes('pos_embedding'));
  vit.model.dispose();
  const res = importOnnx({ from: path.join(FIX, 'resnet.onnx'), out: path.join(dir, 'r.safetensors') });
  const buffers = res.model.namedBuffers().map(([n]) => n);
  assert.ok(buffers.includes('mean') && buffers.includes('std'), `buffers: ${buffers.join(', ')}`);
  assert.ok(!res.model.namedParameters().some(([n]) => n === 'mean'));
  res.model.dispose();
});
