// The packed runtime against the fake-quant model it was packed from: small random models
// (SmallCNN and a ResNet with projection shortcuts, learned lower bounds so the border term is
// exercised) give the same logits within float tolerance, with either kernel; every quantized
// model shipped under models/ predicts the same classes on the test images as `gdnsq eval`.
// The graph models: a MobileNetV2 (1×1 and depthwise 3×3 convs, stride 2) and a ViT (Linear
// layers on [N, T, D] tokens) run every quantized layer on the kernels, with the same logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, noGrad, manualSeed } from '../../src/engine';
import { packageRoot } from '../../src/engine/native';
import { Module, BatchNorm2d } from '../../src/nn';
import { createModel, Model } from '../../src/models';
import { quantize, calibrate, quantizedLayers, QuantizeOptions } from '../../src/quant';
import { ModelCard } from '../../src/train';
import { loadModel } from '../../src/export/load';
import { savePacked } from '../../src/export/packed';
import { load, PackedModel, PackedConv2d, PackedLinear, FusedBasicBlock, FoldedConv2d } from '../../src/runtime';
import { runPredict } from '../../src/cli/predict';
import { channelsLast, KernelMode, KERNEL_MODES } from '../../src/runtime/kernels';
import { loadDataset, BatchLoader } from '../../src/data';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-runtime-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A random model quantized to `bits`, calibrated and saved packed. bnFromData: BN running
 * statistics of a random batch, as a trained model has (a deep random MobileNetV2 with identity
 * statistics shrinks its activations to one code), else random ones.
 */
function packedModel(name: string, args: Record<string, unknown>, options: QuantizeOptions, bits: number, hw: number, bnFromData = false): { file: string; model: Model } {
  const m = createModel(name, { inChannels: 2, numClasses: 5, ...args });
  if (bnFromData) {
    noGrad(() => scope(() => {
      for (const bn of m.modules()) if (bn instanceof BatchNorm2d) (bn as { momentum: number | null }).momentum = 1;
      m.train();
      m.forward(Tensor.randn([32, m.config.inChannels, hw, hw]));
    }));
  }
  quantize(m, options);
  scope(() => { calibrate(m, [Tensor.randn([8, m.config.inChannels, hw, hw]).relu().sub(0.2)], { startBits: bits }); });
  if (!bnFromData) noGrad(() => {  // BN statistics that are not the identity, so the folding is tested
    for (const [n, t] of Object.entries(m.stateDict())) {
      if (n.endsWith('running_var')) t.copy_(Tensor.rand(t.shape).add(0.5));
      if (n.endsWith('running_mean') || (n.includes('bn') && n.endsWith('.bias'))) t.copy_(Tensor.randn(t.shape).mul(0.1));
    }
  });
  // A negative lower bound on every input: x̂ = 0 at the zero padding is then not a code.
  // (The ViT's signed inputs keep the negative bounds calibrate found.)
  if (options.learnLower) noGrad(() => { for (const [, l] of quantizedLayers(m)) if (l.act_quant.lower.item() >= 0) l.act_quant.lower.fill_(-0.05); });
  m.eval();
  const c = m.config.inChannels;
  const card: ModelCard = { model: m.config.name, args: { ...m.config }, dataset: 'fashion-mnist', normalize: { mean: Array(c).fill(0), std: Array(c).fill(1) }, quant: { options } };
  const file = path.join(dir, `${name}-${bits}-${m.config.inChannels}.packed.safetensors`);
  savePacked(m, card, file);
  return { file, model: m };
}

/**
 * The runtime's logits against the fake-quant model's, per image: a wiring error shows in every
 * image; a pre-activation within fp32 rounding of a code boundary (the reference sums in fp32,
 * the runtime exactly) can move one or two. Returns the runtime's logits.
 */
function assertCloseLogits(ref: Model, rt: PackedModel, x: Tensor, what: string, relative = false, flips = 2): Tensor {
  const want = ref.forward(x), got = rt.forward(x);
  const err = got.sub(want).abs().amax(1).toArray(), scale = want.abs().amax().item();
  // relative: 1e-4 of the largest logit (measured: at most 6e-6 on the graph models' images without
  // a flipped code), and logits that differ between images by far more, so that the comparison
  // sees the input at all.
  const tol = relative ? 1e-4 * scale : 2e-4 * Math.max(1, scale);
  if (relative) assert.ok(want.sub(want.mean([0], true)).abs().amax().item() >= 100 * tol, `${what}: the logits hardly depend on the input`);
  const close = err.filter((e) => e <= tol).length;
  assert.ok(close >= x.size(0) - flips, `${what}: ${close} of ${x.size(0)} images within tolerance, errors ${err.map((e) => e.toExponential(1)).join(' ')}`);
  return got;
}

/**
 * check(rt, mode) on the file loaded with each kernel, returning its logits (kept); both kernels
 * compute the same integers and the same fp32 epilogue (depthwise layers the same kernel in
 * both): the logits must be bit-identical.
 */
function inBothModes(file: string, check: (rt: PackedModel, mode: KernelMode) => Tensor): void {
  const logits: Tensor[] = [];
  try {
    for (const mode of KERNEL_MODES) {
      const rt = load(file, { mode });
      try { logits.push(check(rt, mode)); } finally { rt.dispose(); }
    }
    assert.equal(logits[0].sub(logits[1]).abs().amax().item(), 0, 'bitserial and int8 logits are bit-identical');
  } finally {
    for (const t of logits) t.dispose();
  }
}

/**
 * Each packed layer on the reference's own input to it gives the reference layer's output (then
 * its folded BatchNorm): the same codes, the integer sums exact, so only fp32 rounding differs,
 * at every element. (End to end, a code flip at a boundary moves the logits of a deep network.)
 */
function assertLayerwise(ref: Model, rt: PackedModel, x: Tensor, what: string): void {
  const refs = new Map(ref.namedModules()), packed = new Map(rt.model.namedModules());
  const inputs = new Map<string, Tensor>();
  const originals = rt.layers.map((l) => {
    const q = refs.get(l.name) as Module, orig = q.forward.bind(q);
    q.forward = (t: Tensor): Tensor => { inputs.set(l.name, t.clone().keep()); return orig(t); };
    return () => { q.forward = orig; };
  });
  try {
    scope(() => noGrad(() => { ref.forward(x); }));
    originals.forEach((restore) => restore());
    for (const l of rt.layers) {
      scope(() => noGrad(() => {
        const xin = inputs.get(l.name) as Tensor;
        let want = (refs.get(l.name) as Module).forward(xin);
        if (l.foldedBn) want = (refs.get(l.foldedBn) as Module).forward(want);
        const got = (packed.get(l.name) as Module).forward(xin);
        const err = got.sub(want).abs().amax().item(), scale = want.abs().amax().item();
        assert.ok(err <= 1e-5 * Math.max(1, scale), `${what} ${l.name}: max error ${err.toExponential(2)} (scale ${scale.toFixed(3)})`);
      }));
    }
  } finally {
    originals.forEach((restore) => restore());  // (again, if the forward threw)
    for (const t of inputs.values()) t.dispose();
  }
}

for (const [name, args, bits, learnLower] of [['smallcnn', {}, 2, true], ['resnet20', {}, 1, false], ['resnet20', {}, 3, true]] as [string, Record<string, unknown>, number, boolean][]) {
  test(`${name} W${bits}A${bits}${learnLower ? ' (learned lower bounds)' : ''}: the packed runtime gives the fake-quant logits`, () => {
    manualSeed(11 + bits);
    const { file, model } = packedModel(name, args, { wBits: bits, aBits: bits, perChannel: true, learnLower }, bits, 12);
    const ref = loadModel(file).model;
    ref.eval();
    const x = Tensor.randn([16, 2, 12, 12]).keep();
    inBothModes(file, (rt, mode) => {
      assert.ok(rt.layers.every((l) => l.runtime === 'packed' && l.mode === mode), JSON.stringify(rt.layers));
      const kinds = rt.model.modules();
      assert.ok(kinds.some((k) => k instanceof PackedConv2d));
      if (learnLower) assert.ok(kinds.every((k) => !(k instanceof PackedConv2d) || k.act.lo < 0), 'every packed conv has b_a < 0 (the bias map path)');
      if (name.startsWith('resnet')) assert.ok(kinds.some((k) => k instanceof FusedBasicBlock) && kinds.some((k) => k instanceof FoldedConv2d));
      return scope(() => noGrad(() => {
        const got = assertCloseLogits(ref, rt, x, mode);
        assert.ok(rt.forward(channelsLast(x)).sub(got).abs().amax().item() === 0, 'channels_last input gives the same logits');
        return got.keep();
      }));
    });
    x.dispose();
    ref.dispose();
    model.dispose();
  });
}

// The graph models, 16×16 images: every quantized layer on the kernels (MobileNetV2's depthwise
// ones on the depthwise kernel whichever mode, its ReLU6 Clip on libtorch after them; the ViT's
// Linear layers on [N, T, D] tokens), with the fake-quant logits in both modes.
const GRAPH_CASES: [string, number, number, number][] = [['mobilenetv2', 4, 27, 9], ['mobilenetv2', 2, 27, 9], ['vit', 4, 12, 0]];
for (const [name, bits, layers, depthwise] of GRAPH_CASES) {
  test(`${name} W${bits}A${bits} (learned lower bounds): every quantized layer on the integer kernels, the fake-quant logits`, () => {
    manualSeed(31 + bits);
    const { file, model } = packedModel(name, { imageSize: 16 }, { wBits: bits, aBits: bits, perChannel: true, learnLower: true }, bits, 16, true);
    const ref = loadModel(file).model;
    ref.eval();
    const x = Tensor.randn([16, 2, 16, 16]).keep();
    inBothModes(file, (rt, mode) => {
      assert.equal(rt.layers.length, layers);
      assert.deepEqual(rt.layers.filter((l) => l.runtime !== 'packed'), [], 'nothing left on libtorch');
      assert.equal(rt.layers.filter((l) => l.mode === 'depthwise').length, depthwise);
      assert.ok(rt.layers.every((l) => l.mode === mode || l.mode === 'depthwise'), JSON.stringify(rt.layers));
      const kinds = rt.model.modules();
      assert.equal(kinds.filter((k) => k instanceof (name === 'vit' ? PackedLinear : PackedConv2d)).length, layers);
      assert.ok(kinds.every((k) => !(k instanceof PackedConv2d || k instanceof PackedLinear) || k.act.lo < 0), 'every packed layer has b_a < 0');
      assertLayerwise(ref, rt, x, `${name} ${mode}`);
      // 27 layers deep, one flipped code can cascade through the image's later layers.
      return scope(() => noGrad(() => assertCloseLogits(ref, rt, x, `${name} ${mode}`, true, 4).keep()));
    });
    x.dispose();
    ref.dispose();
    model.dispose();
  });
}

test('gdnsq predict on a MobileNetV2: every quantized layer on the packed kernels, none listed on libtorch', () => {
  manualSeed(41);
  const { file, model } = packedModel('mobilenetv2', { inChannels: 1, imageSize: 16 }, { wBits: 2, aBits: 2, perChannel: true }, 2, 16, true);
  model.dispose();
  const n = 5, idx = Buffer.alloc(16 + n * 256);
  [0x803, n, 16, 16].forEach((v, i) => idx.writeUInt32BE(v, 4 * i));
  for (let i = 16; i < idx.length; i++) idx[i] = (i * 37) & 255;
  const input = path.join(dir, 'images.idx');
  fs.writeFileSync(input, idx);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.map(String).join(' ')); };
  try {
    assert.equal(runPredict({ model: file, input, batchSize: 4, mode: 'auto' }).n, n);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /: 27 of 27 quantized layers on the packed kernels \(.*W2A2 depthwise.*\)$/);
  assert.ok(!lines.some((l) => l.startsWith('on libtorch')), lines.join('\n'));
});

test('load refuses what it cannot run, in one line', () => {
  const fp = createModel('smallcnn', { inChannels: 1, numClasses: 3 });
  const card: ModelCard = { model: 'smallcnn', args: { ...fp.config }, dataset: 'fashion-mnist', normalize: { mean: [0], std: [1] } };
  const file = path.join(dir, 'fp.safetensors');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('../../src/train').saveModelFile(file, fp.stateDict(), card);
  assert.throws(() => load(file), /fp\.safetensors: not a quantized model \(nothing for the packed runtime to run\)/);
  assert.throws(() => load(file, { mode: 'fast' as never }), /runtime: unknown kernel mode 'fast' \(auto, bitserial, int8\)/);
  assert.throws(() => load(path.join(dir, 'missing.safetensors')), /not found/);
  fp.dispose();
});

// Every shipped quantized model: the packed runtime's classes are gdnsq eval's on the first 2,000
// test images. They may differ only where a pre-activation sits within float rounding of a code
// boundary (the fake-quant reference sums in fp32, the runtime exactly in integers): at most 0.2%.
const shipped = fs.existsSync(path.join(packageRoot, 'models'))
  ? fs.readdirSync(path.join(packageRoot, 'models')).filter((f) => /-w\d+a\d+\.safetensors$/.test(f)) : [];
for (const f of shipped) {
  test(`models/${f}: the packed runtime predicts the classes gdnsq eval predicts`, () => {
    const file = path.join(packageRoot, 'models', f);
    const { model: ref, card } = loadModel(file);
    ref.eval();
    const rt = load(file);
    const data = loadDataset('fashion-mnist');
    const loader = new BatchLoader({ dataset: data.test, batchSize: 500, normalize: card.normalize });
    let agree = 0, n = 0, refOk = 0, rtOk = 0;
    for (let b = 0; b < 4; b++) {
      scope(() => noGrad(() => {
        const { x, y } = loader.batch(0, b);
        const want = ref.forward(x).argmax(1).toArray(), got = Array.from(rt.predict(x)), labels = y.toArray();
        for (let i = 0; i < want.length; i++) { agree += want[i] === got[i] ? 1 : 0; refOk += want[i] === labels[i] ? 1 : 0; rtOk += got[i] === labels[i] ? 1 : 0; n++; }
      }));
    }
    rt.dispose();
    ref.dispose();
    assert.equal(n, 2000);
    assert.ok(agree >= 0.998 * n, `${agree} of ${n} predictions agree`);
    assert.ok(Math.abs(refOk - rtOk) <= 2, `top-1 ${refOk} vs ${rtOk} of ${n}`);
  });
}
