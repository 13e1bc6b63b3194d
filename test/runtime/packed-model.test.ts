// The packed runtime against the fake-quant model it was packed from: small random models
// (SmallCNN and a ResNet with projection shortcuts, learned lower bounds so the border term is
// exercised) give the same logits within float tolerance, with either kernel; every quantized
// model shipped under models/ predicts the same classes on the test images as `gdnsq eval`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, noGrad, manualSeed } from '../../src/engine';
import { packageRoot } from '../../src/engine/native';
import { createModel, Model } from '../../src/models';
import { quantize, calibrate, quantizedLayers, QuantizeOptions } from '../../src/quant';
import { ModelCard } from '../../src/train';
import { loadModel } from '../../src/export/load';
import { savePacked } from '../../src/export/packed';
import { load, PackedConv2d, FusedBasicBlock, FoldedConv2d } from '../../src/runtime';
import { channelsLast } from '../../src/runtime/kernels';
import { loadDataset, BatchLoader } from '../../src/data';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-runtime-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function packedModel(name: string, args: Record<string, unknown>, options: QuantizeOptions, bits: number, hw: number): { file: string; model: Model } {
  const m = createModel(name, { inChannels: 2, numClasses: 5, ...args });
  quantize(m, options);
  scope(() => { calibrate(m, [Tensor.randn([8, 2, hw, hw]).relu().sub(0.2)], { startBits: bits }); });
  noGrad(() => {  // BN statistics that are not the identity, so the folding is tested
    for (const [n, t] of Object.entries(m.stateDict())) {
      if (n.endsWith('running_var')) t.copy_(Tensor.rand(t.shape).add(0.5));
      if (n.endsWith('running_mean') || (n.includes('bn') && n.endsWith('.bias'))) t.copy_(Tensor.randn(t.shape).mul(0.1));
    }
  });
  // A negative lower bound on every input: x̂ = 0 at the zero padding is then not a code.
  if (options.learnLower) noGrad(() => { for (const [, l] of quantizedLayers(m)) l.act_quant.lower.fill_(-0.05); });
  m.eval();
  const card: ModelCard = { model: m.config.name, args: { ...m.config }, dataset: 'fashion-mnist', normalize: { mean: [0, 0], std: [1, 1] }, quant: { options } };
  const file = path.join(dir, `${name}-${bits}.packed.safetensors`);
  savePacked(m, card, file);
  return { file, model: m };
}

for (const [name, args, bits, learnLower] of [['smallcnn', {}, 2, true], ['resnet20', {}, 1, false], ['resnet20', {}, 3, true]] as [string, Record<string, unknown>, number, boolean][]) {
  test(`${name} W${bits}A${bits}${learnLower ? ' (learned lower bounds)' : ''}: the packed runtime gives the fake-quant logits`, () => {
    manualSeed(11 + bits);
    const { file, model } = packedModel(name, args, { wBits: bits, aBits: bits, perChannel: true, learnLower }, bits, 12);
    const ref = loadModel(file).model;
    ref.eval();
    const x = Tensor.randn([16, 2, 12, 12]).keep();
    const logits: Tensor[] = [];
    for (const mode of ['bitserial', 'int8'] as const) {
      const rt = load(file, { mode });
      try {
        assert.ok(rt.layers.every((l) => l.runtime === 'packed' && l.mode === mode), JSON.stringify(rt.layers));
        const kinds = rt.model.modules();
        assert.ok(kinds.some((k) => k instanceof PackedConv2d));
        if (learnLower) assert.ok(kinds.every((k) => !(k instanceof PackedConv2d) || k.act.lo < 0), 'every packed conv has b_a < 0 (the bias map path)');
        if (name.startsWith('resnet')) assert.ok(kinds.some((k) => k instanceof FusedBasicBlock) && kinds.some((k) => k instanceof FoldedConv2d));
        scope(() => noGrad(() => {
          const want = ref.forward(x), got = rt.forward(x);
          // Per image: a wiring error shows in every image; a pre-activation within fp32 rounding of a
          // code boundary (the reference sums in fp32, the runtime exactly) can move one or two.
          const err = got.sub(want).abs().amax(1).toArray(), scale = want.abs().amax().item();
          const close = err.filter((e) => e <= 2e-4 * Math.max(1, scale)).length;
          assert.ok(close >= 14, `${mode}: ${close} of 16 images within tolerance, errors ${err.map((e) => e.toExponential(1)).join(' ')}`);
          assert.ok(rt.forward(channelsLast(x)).sub(got).abs().amax().item() === 0, 'channels_last input gives the same logits');
          logits.push(got.keep());
        }));
      } finally {
        rt.dispose();
      }
    }
    // Both kernels compute the same integers and the same fp32 epilogue: identical logits.
    assert.equal(logits[0].sub(logits[1]).abs().amax().item(), 0, 'bitserial and int8 logits are bit-identical');
    for (const t of [...logits, x]) t.dispose();
    ref.dispose();
    model.dispose();
  });
}

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
