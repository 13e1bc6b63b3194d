import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, manualSeed, noGrad } from '../../src/engine';
import { Module, Conv2d, Linear, BatchNorm2d, Identity } from '../../src/nn';
import { cifarResNet, SmallCNN } from '../../src/models';
import { saveSafetensors, loadSafetensors } from '../../src/engine/safetensors';
import { quantize } from '../../src/quant/quantize';
import { QuantizedLayer } from '../../src/quant/qlayer';
import { QConv2d } from '../../src/quant/qconv2d';
import { QLinear } from '../../src/quant/qlinear';
import { FrozenBatchNorm2d } from '../../src/quant/frozen-batchnorm';
import { calibrate } from '../../src/quant/calibrate';
import { setValues } from './fixtures';

// eslint-disable-next-line @typescript-eslint/ban-types
const names = (m: Module, cls: Function): string[] =>
  m.namedModules().filter(([, x]) => x instanceof cls).map(([n]) => n);

const INNER = [1, 2, 3].flatMap((k) => [0, 1, 2].flatMap((i) => [`layer${k}.${i}.conv1`, `layer${k}.${i}.conv2`]));
const SHORTCUTS = ['layer2.0.downsample.0', 'layer3.0.downsample.0'];

function resnet20(): Module {
  manualSeed(21);
  return cifarResNet(20, { inChannels: 1, numClasses: 10 });
}

/** Moves BN statistics and affine parameters away from their defaults, so folding is not trivial. */
function randomizeBn(m: Module): void {
  for (const [, bn] of m.namedModules()) {
    if (!(bn instanceof BatchNorm2d)) continue;
    const c = bn.numFeatures;
    scope(() => {
      setValues(bn.runningMean!, Tensor.randn([c]).mul(0.3).toArray());
      setValues(bn.runningVar!, Tensor.rand([c]).add(0.5).toArray());
      setValues(bn.weight!, Tensor.rand([c]).add(0.5).toArray());
      setValues(bn.bias!, Tensor.randn([c]).mul(0.2).toArray());
    });
  }
}

test('ResNet-20 default: the 18 inner 3×3 convs are swapped; first conv, fc and both shortcuts stay FP', () => {
  const m = resnet20();
  const before = new Map(m.namedModules().filter(([, x]) => x instanceof Conv2d).map(([n, x]) => [n, (x as Conv2d).weight]));
  const r = quantize(m, { wBits: 2, aBits: 2 });
  assert.deepEqual(names(m, QConv2d), INNER);
  assert.deepEqual(names(m, QLinear), []);
  assert.deepEqual(names(m, Conv2d), ['conv1', ...SHORTCUTS]);
  assert.deepEqual(names(m, Linear), ['fc']);
  assert.deepEqual(r.layers.map((l) => l.name), INNER);
  assert.deepEqual(r.fp, [
    { name: 'conv1', reason: 'first conv' }, { name: SHORTCUTS[0], reason: 'shortcut' },
    { name: SHORTCUTS[1], reason: 'shortcut' }, { name: 'fc', reason: 'last linear' },
  ]);
  assert.ok(r.layers.every((l) => l.wBits === 2 && l.aBits === 2 && l.perChannel && l.bias === 'none'));
  // the swapped layers own the very same weight tensors, under the same names
  for (const n of INNER) assert.equal((m.getSubmodule(n) as QConv2d).weight, before.get(n));
  const keys = Object.keys(m.stateDict());
  for (const k of ['layer1.0.conv1.weight', 'layer1.0.conv1.act_quant.lower', 'layer1.0.conv1.act_quant.log2_range',
    'layer1.0.conv1.act_quant.log2_step', 'layer1.0.conv1.act_quant.target_bits', 'layer1.0.conv1.weight_quant.log2_step',
    'layer1.0.bn1.running_mean', 'conv1.weight', 'fc.bias']) assert.ok(keys.includes(k), k);
  assert.deepEqual((m.getSubmodule('layer3.2.conv2') as QConv2d).weight_quant.log2_step.shape, [64]);
  const text = String(r);
  assert.match(text, /^quantized 18 layers \(method noise, BatchNorm keep\):/);
  assert.match(text, /layer1\.0\.conv1 +QConv2d +W2A2 +per-channel +bias none/);
  assert.match(text, /kept FP: conv1 \(first conv\), layer2\.0\.downsample\.0 \(shortcut\), layer3\.0\.downsample\.0 \(shortcut\), fc \(last linear\)/);
  scope(() => assert.deepEqual(m.forward(Tensor.randn([2, 1, 8, 8])).shape, [2, 10]));
  m.dispose();
});

test('options: first, last, shortcuts, exclude, per-layer bits, per-tensor, bias, method', () => {
  const m = resnet20();
  const r = quantize(m, {
    wBits: 4, aBits: 3, quantizeFirst: true, quantizeLast: true, quantizeShortcuts: true, perChannel: false,
    quantizeBias: true, method: 'lsq', exclude: ['layer1.0.conv1'], layers: { 'layer3.2.conv2': { wBits: 1 }, fc: { aBits: 8 } },
  });
  assert.deepEqual(names(m, QConv2d), ['conv1', ...INNER.slice(1, 8), SHORTCUTS[0], ...INNER.slice(8, 14), SHORTCUTS[1], ...INNER.slice(14)]);
  assert.deepEqual(names(m, QLinear), ['fc']);
  assert.deepEqual(r.fp, [{ name: 'layer1.0.conv1', reason: 'excluded' }]);
  const fc = m.getSubmodule('fc') as QLinear;
  assert.equal(fc.act_quant.targetBits, 8);
  assert.equal(fc.weight_quant.targetBits, 4);
  assert.equal(fc.bias_quant!.targetBits, 4);
  assert.deepEqual(fc.weight_quant.log2_step.shape, [1]);
  // The reference applies lsq/ewgs/aewgs to weights only: activations keep the noise STE.
  assert.equal(fc.act_quant.method, 'noise');
  assert.equal(fc.weight_quant.method, 'lsq');
  assert.equal(r.layers.find((l) => l.name === 'fc')!.bias, 'quantized');
  const last = m.getSubmodule('layer3.2.conv2') as QConv2d;
  assert.equal(last.weight_quant.targetBits, 1);
  assert.equal(last.act_quant.targetBits, 3);
  assert.ok(Object.keys(m.stateDict()).includes('fc.bias_quant.log2_step'));
  m.dispose();

  // a layer named in `layers` is quantized although a default rule would keep it FP
  const n = resnet20();
  const r2 = quantize(n, { wBits: 2, aBits: 2, layers: { conv1: { wBits: 8, aBits: 8 } } });
  assert.equal(names(n, QConv2d)[0], 'conv1');
  assert.equal(r2.layers.length, 19);
  assert.throws(() => quantize(n, { wBits: 2, aBits: 2 }), /^Error: quantize: the model is already quantized$/);
  n.dispose();
});

test('bad options are refused with one line naming them', () => {
  const m = resnet20();
  assert.throws(() => quantize(m, { wBits: 2, aBits: 2, layers: { 'layer9.conv': {} } }), /^Error: quantize: no Conv2d\/Linear layer named 'layer9\.conv' \(layers: conv1, layer1\.0\.conv1, /);
  assert.throws(() => quantize(m, { wBits: 2, aBits: 2, exclude: ['bn1'] }), /no Conv2d\/Linear layer named 'bn1'/);
  assert.throws(() => quantize(m, { wBits: -1, aBits: 2 }), /^Error: quantize: wBits must be a positive number of bits, got -1$/);
  assert.throws(() => quantize(m, { wBits: 2, aBits: 2, layers: { fc: { aBits: 0 } } }), /layers\['fc'\]\.aBits must be a positive number of bits, got 0/);
  assert.throws(() => quantize(m, { wBits: 2, aBits: 2, bn: 'drop' as never }), /unknown bn mode 'drop' \(keep, freeze, fuse\)/);
  assert.throws(() => quantize(m, { wBits: 2, aBits: 2, method: 'ste' as never }), /unknown quantizer method 'ste'/);
  assert.equal(names(m, QuantizedLayer).length, 0, 'nothing was swapped');
  m.dispose();
});

test('bn fuse: every BN folds into its conv, same eval output at 32 bits (and FP)', () => {
  const m = resnet20();
  randomizeBn(m);
  m.eval();
  const x = scope(() => Tensor.randn([3, 1, 8, 8]).keep());
  const before = noGrad(() => m.forward(x));
  const r = quantize(m, { wBits: 32, aBits: 32, bn: 'fuse', quantizeFirst: true, quantizeShortcuts: true });
  assert.equal(names(m, BatchNorm2d).length, 0);
  assert.equal(names(m, Identity).length, 21);
  assert.equal(r.bnLayers.length, 21);
  assert.ok(r.bnLayers.includes('layer2.0.downsample.0+layer2.0.downsample.1') && r.bnLayers.includes('conv1+bn1'));
  assert.ok((m.getSubmodule('layer1.0.conv1') as QConv2d).bias !== null);
  const after = noGrad(() => m.forward(x));
  assert.ok(after.allclose(before, 1e-4, 1e-5), `max diff ${scope(() => after.sub(before).abs().amax().item())}`);
  for (const t of [x, before, after]) t.dispose();
  m.dispose();

  // before any quantization (FP layers): SmallCNN's conv1/bn1.. pairs by name
  manualSeed(5);
  const s = new SmallCNN({ inChannels: 1 });
  randomizeBn(s);
  s.eval();
  scope(() => {
    const y = Tensor.randn([2, 1, 8, 8]);
    const ref = noGrad(() => s.forward(y));
    quantize(s, { wBits: 32, aBits: 32, bn: 'fuse', exclude: ['conv2', 'conv3'] });
    assert.equal(names(s, QuantizedLayer).length, 0);
    assert.ok(noGrad(() => s.forward(y)).allclose(ref, 1e-4, 1e-5));
  });
  s.dispose();
});

test('bn freeze: BNs normalise with running statistics in training and never update them', () => {
  const m = resnet20();
  randomizeBn(m);
  const r = quantize(m, { wBits: 32, aBits: 32, bn: 'freeze' });
  assert.equal(names(m, FrozenBatchNorm2d).length, 21);
  assert.equal(r.bnLayers.length, 21);
  const bn = m.getSubmodule('layer1.0.bn1') as FrozenBatchNorm2d;
  scope(() => {
    const mean = bn.runningMean!.clone();
    const x = Tensor.randn([4, 1, 8, 8]);
    m.train();
    const yTrain = m.forward(x);
    assert.ok(bn.runningMean!.equal(mean));
    assert.equal(bn.numBatchesTracked!.item(), 0);
    assert.equal(bn.training, true);
    m.eval();
    assert.ok(noGrad(() => m.forward(x)).allclose(yTrain, 1e-5, 1e-6));
    m.train();
    yTrain.sum().backward();
    assert.ok(bn.weight!.grad !== null, 'the affine parameters stay learnable');
  });
  assert.ok(Object.keys(m.stateDict()).includes('layer1.0.bn1.running_var'));
  m.dispose();
});

test('state dict round trip: save → load into a freshly quantized model → identical outputs', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-quant-')), 'q.safetensors');
  const opts = { wBits: 3, aBits: 2, quantizeFirst: true, learnLower: false } as const;
  const a = resnet20();
  quantize(a, opts);
  scope(() => {
    calibrate(a, [Tensor.randn([4, 1, 8, 8]), Tensor.randn([4, 1, 8, 8])], { startBits: 4 });
    // learned-looking values, and one pruned quantizer whose constant output must come back too
    const l = a.getSubmodule('layer2.1.conv1') as QConv2d;
    setValues(l.act_quant.log2_step, l.act_quant.log2_step.item() + 0.3);
    setValues((a.getSubmodule('layer3.0.conv2') as QConv2d).act_quant.pruned, 1);
    saveSafetensors(file, a.stateDict());
  });
  const b = resnet20();
  manualSeed(99);
  quantize(b, opts);
  a.eval();
  b.eval();
  scope(() => {
    const x = Tensor.randn([3, 1, 8, 8]);
    const before = noGrad(() => b.forward(x));
    const { tensors } = loadSafetensors(file);
    const res = b.loadStateDict(tensors, { strict: true });
    assert.deepEqual(res, { missing: [], unexpected: [], mismatched: [] });
    const ya = noGrad(() => a.forward(x)), yb = noGrad(() => b.forward(x));
    assert.ok(ya.equal(yb), 'identical outputs after loading');
    assert.ok(!before.equal(yb), 'the fresh model differed before loading');
    const first = b.getSubmodule('conv1') as QConv2d;
    assert.equal(first.act_quant.isSigned, true, 'the image input is signed');
    assert.equal((b.getSubmodule('layer1.0.conv1') as QConv2d).act_quant.isSigned, false, 'post-ReLU inputs are unsigned');
    assert.equal((b.getSubmodule('layer3.0.conv2') as QConv2d).act_quant.isPruned, true);
  });
  fs.rmSync(path.dirname(file), { recursive: true });
  a.dispose();
  b.dispose();
});
