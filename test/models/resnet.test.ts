import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, manualSeed, liveTensors } from '../../src/engine';
import { Module, Conv2d, BatchNorm2d, Linear } from '../../src/nn';
import { ResNet, cifarResNet, resnet18 } from '../../src/models';

/**
 * torchvision's state-dict layout of a BasicBlock ResNet, written out from the naming rule:
 * conv1, bn1, then layer{K}.{i}.{conv1,bn1,conv2,bn2} with downsample.{0,1} on the first block
 * of every stage after the first, then fc. BN entries: weight, bias, running_mean,
 * running_var, num_batches_tracked.
 */
function torchvisionLayout(o: { inChannels: number; numClasses: number; blocks: number[]; widths: number[]; stemKernel: number }): [string, number[]][] {
  const out: [string, number[]][] = [];
  const bn = (p: string, c: number): void => {
    out.push([`${p}.weight`, [c]], [`${p}.bias`, [c]], [`${p}.running_mean`, [c]], [`${p}.running_var`, [c]], [`${p}.num_batches_tracked`, []]);
  };
  out.push(['conv1.weight', [o.widths[0], o.inChannels, o.stemKernel, o.stemKernel]]);
  bn('bn1', o.widths[0]);
  let inPlanes = o.widths[0];
  o.blocks.forEach((n, k) => {
    const w = o.widths[k];
    for (let i = 0; i < n; i++) {
      const b = `layer${k + 1}.${i}`;
      out.push([`${b}.conv1.weight`, [w, i === 0 ? inPlanes : w, 3, 3]]);
      bn(`${b}.bn1`, w);
      out.push([`${b}.conv2.weight`, [w, w, 3, 3]]);
      bn(`${b}.bn2`, w);
      if (i === 0 && k > 0) {
        out.push([`${b}.downsample.0.weight`, [w, inPlanes, 1, 1]]);
        bn(`${b}.downsample.1`, w);
      }
    }
    inPlanes = w;
  });
  out.push(['fc.weight', [o.numClasses, inPlanes]], ['fc.bias', [o.numClasses]]);
  return out;
}

const layout = (m: Module): [string, number[]][] => Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]);

manualSeed(0);
const r18 = resnet18();

test('ResNet-18: torchvision parameter count, state-dict keys (in order) and shapes', () => {
  assert.equal(r18.numParameters(), 11_689_512);
  const expected = torchvisionLayout({ inChannels: 3, numClasses: 1000, blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], stemKernel: 7 });
  assert.equal(expected.length, 122);
  assert.deepEqual(layout(r18), expected);
  assert.equal(r18.stateDict()['layer4.1.bn2.num_batches_tracked'].dtype, 'int64');
  assert.deepEqual(r18.config, { name: 'resnet18', inChannels: 3, numClasses: 1000 });
  const stem = r18.getSubmodule('conv1') as Conv2d;
  assert.deepEqual([stem.stride, stem.padding, stem.bias], [[2, 2], [3, 3], null]);
  assert.equal(r18.getSubmodule('maxpool').toString(), 'MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)');
  for (const k of [2, 3, 4]) {
    assert.deepEqual((r18.getSubmodule(`layer${k}.0.conv1`) as Conv2d).stride, [2, 2]);
    assert.deepEqual((r18.getSubmodule(`layer${k}.0.downsample.0`) as Conv2d).stride, [2, 2]);
    assert.deepEqual((r18.getSubmodule(`layer${k}.1.conv1`) as Conv2d).stride, [1, 1]);
  }
});

test('ResNet-18: forward shapes, gradients reach every parameter, nothing leaks', () => {
  const live = liveTensors();
  scope(() => {
    r18.eval();
    assert.deepEqual(r18.forward(Tensor.randn([1, 3, 48, 48])).shape, [1, 1000]);
    r18.train();
    const logits = r18.forward(Tensor.randn([2, 3, 32, 32]));
    F.crossEntropy(logits, Tensor.from([1, 999], [2], 'int64')).backward();
  });
  assert.equal(liveTensors(), live);
  for (const [name, p] of r18.namedParameters()) {
    const g = scope(() => { const gr = p.grad; return gr === null ? null : gr.abs().sum().item(); });
    assert.ok(g !== null && Number.isFinite(g) && g > 0, `${name}: gradient ${g}`);
  }
  r18.zeroGrad();
});

// CIFAR ResNet-(6n+2) parameters, option-B shortcuts (weights + BN weight/bias; 3 -> 10):
//   stem: conv 3·16·9 = 432, BN 32                                          =    464
//   stage 1, each of n blocks: 2 convs 16·16·9 = 2304, 2 BN 32              =  4 672
//   stage 2, first block: 16·32·9 = 4608 + 32·32·9 = 9216 + 2 BN 64
//            + shortcut 1×1 16·32 = 512 + BN 64                             = 14 528
//   stage 2, other blocks: 2·9216 + 2·64                                    = 18 560
//   stage 3, first block: 32·64·9 = 18432 + 64·64·9 = 36864 + 2 BN 128
//            + shortcut 32·64 = 2048 + BN 128                               = 57 728
//   stage 3, other blocks: 2·36864 + 2·128                                  = 73 984
//   fc: 64·10 + 10                                                          =    650
// ResNet-20 (n=3): 464 + 3·4672 + 14528 + 2·18560 + 57728 + 2·73984 + 650 = 272 474
// (option A, parameter-free shortcuts, gives the often quoted 269 722 = 272 474 − 2 752).
const cifarCount = (n: number): number => 464 + n * 4672 + 14528 + (n - 1) * 18560 + 57728 + (n - 1) * 73984 + 650;

test('CIFAR ResNets: parameter counts by hand, torchvision layout, option-B shortcuts', () => {
  assert.equal(cifarCount(3), 272_474);
  manualSeed(1);
  for (const [depth, count] of [[20, 272_474], [32, 466_906], [44, 661_338], [56, 855_770]]) {
    const m = cifarResNet(depth);
    const n = (depth - 2) / 6;
    assert.equal(cifarCount(n), count);
    assert.equal(m.numParameters(), count, `resnet${depth}`);
    assert.deepEqual(layout(m), torchvisionLayout({ inChannels: 3, numClasses: 10, blocks: [n, n, n], widths: [16, 32, 64], stemKernel: 3 }));
    assert.deepEqual(m.config, { name: `resnet${depth}`, inChannels: 3, numClasses: 10 });
    assert.deepEqual(scope(() => m.forward(Tensor.randn([2, 3, 16, 16])).shape), [2, 10]);
    m.dispose();
  }
  assert.throws(() => cifarResNet(21), { message: 'cifarResNet: depth must be 6n+2 with n >= 1 (20, 32, 44, 56, ...), got 21' });
});

test('ResNet-20: any channels/classes, gradients reach every parameter, BN statistics follow train/eval', () => {
  manualSeed(2);
  const m = cifarResNet(20, { inChannels: 1, numClasses: 7 });
  assert.deepEqual(scope(() => m.forward(Tensor.randn([3, 1, 28, 28])).shape), [3, 7]);
  const bns = m.modules().filter((x): x is BatchNorm2d => x instanceof BatchNorm2d);
  assert.equal(bns.length, 21);
  assert.ok(bns.every((b) => b.numBatchesTracked!.item() === 1));
  scope(() => F.crossEntropy(m.forward(Tensor.randn([4, 1, 12, 12])), Tensor.from([0, 1, 2, 6], [4], 'int64')).backward());
  for (const [name, p] of m.namedParameters()) {
    const g = scope(() => { const gr = p.grad; return gr === null ? null : gr.abs().sum().item(); });
    assert.ok(g !== null && Number.isFinite(g) && g > 0, `${name}: gradient ${g}`);
  }
  m.eval();
  assert.ok(m.modules().every((x) => !x.training));
  const before = scope(() => bns.map((b) => b.runningMean!.clone().keep()));
  scope(() => { m.forward(Tensor.randn([2, 1, 8, 8])); });
  assert.ok(bns.every((b, i) => b.numBatchesTracked!.item() === 2 && b.runningMean!.equal(before[i])));
  before.forEach((t) => t.dispose());
  m.dispose();
});

test('ResNet init as torchvision: He normal (fan_out) convs, BN 1/0, Linear default; reproducible', () => {
  manualSeed(3);
  const a = cifarResNet(20);
  manualSeed(3);
  const b = cifarResNet(20);
  for (const [k, t] of Object.entries(a.stateDict())) assert.ok(t.equal(b.stateDict()[k]), k);
  // layer3.*.conv2: 64·64·9 = 36864 draws with std √(2 / (64·9))
  const w = (a.getSubmodule('layer3.2.conv2') as Conv2d).weight.toArray();
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(2 / 576) - 1) < 0.02, String(std));
  const bn = a.getSubmodule('layer2.0.downsample.1') as BatchNorm2d;
  assert.ok(bn.weight!.toArray().every((v) => v === 1) && bn.bias!.toArray().every((v) => v === 0));
  const fc = a.getSubmodule('fc') as Linear;
  assert.ok(fc.weight.toArray().every((v) => Math.abs(v) <= 1 / 8) && fc.bias!.toArray().every((v) => Math.abs(v) <= 1 / 8));
  a.dispose();
  b.dispose();
});

// What the quantizer does: swap a convolution for a wrapper module in place.
class Wrapped extends Module {
  calls = 0;
  constructor(inner: Module) {
    super();
    this.registerModule('inner', inner);
  }
  override forward(x: Tensor): Tensor {
    this.calls++;
    return (this as unknown as { inner: Module }).inner.call(x);
  }
}

test('setSubmodule inside a ResNet: forward goes through the new layer, names follow', () => {
  manualSeed(4);
  const m = cifarResNet(20).eval();
  const x = Tensor.randn([2, 3, 16, 16]).keep();
  const y0 = scope(() => m.forward(x).keep());
  const paths = ['conv1', 'layer2.0.conv1', 'layer2.0.downsample.0', 'layer3.2.conv2', 'fc'];
  const wrappers = paths.map((p) => {
    const w = new Wrapped(m.getSubmodule(p));
    m.setSubmodule(p, w);
    return w;
  });
  const y1 = scope(() => m.forward(x).keep());
  assert.ok(y1.equal(y0), 'same weights, same output');
  assert.deepEqual(wrappers.map((w) => w.calls), [1, 1, 1, 1, 1]);
  const names = m.namedParameters().map(([n]) => n);
  assert.ok(names.includes('layer2.0.downsample.0.inner.weight') && !names.includes('layer2.0.downsample.0.weight'));
  assert.ok(names.includes('fc.inner.bias'));
  assert.equal(m.numParameters(), 272_474);
  // swapping for a different layer changes the output
  m.setSubmodule('layer3.2.conv2', new Conv2d(64, 64, 3, { padding: 1, bias: false }));
  assert.ok(!scope(() => m.forward(x).equal(y0)));
  [x, y0, y1].forEach((t) => t.dispose());
  m.dispose();
});

test('ResNet is exported as a class with its config', () => {
  manualSeed(5);
  const m = cifarResNet(20, { numClasses: 100 });
  assert.ok(m instanceof ResNet);
  assert.deepEqual(m.config, { name: 'resnet20', inChannels: 3, numClasses: 100 });
  assert.ok(Object.isFrozen(m.config));
  assert.ok(m.toString().startsWith('ResNet(\n  (conv1): Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n'));
  m.dispose();
});
