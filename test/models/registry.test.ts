import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed } from '../../src/engine';
import { createModel, MODEL_NAMES, ResNet, SmallCNN, ModelArgs } from '../../src/models';

test('createModel knows the CIFAR ResNets, ResNet-18, the small CNN, MobileNetV2 and the ViT', () => {
  assert.deepEqual(MODEL_NAMES, ['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet18', 'smallcnn', 'mobilenetv2', 'vit']);
  assert.throws(() => createModel('resnet50'), { message: "unknown model 'resnet50' (known: resnet20, resnet32, resnet44, resnet56, resnet18, smallcnn, mobilenetv2, vit)" });
  assert.throws(() => createModel('toString'), /^Error: unknown model 'toString'/);
  const m = createModel('resnet44');
  assert.ok(m instanceof ResNet);
  assert.deepEqual(m.config, { name: 'resnet44', inChannels: 3, numClasses: 10 });
  m.dispose();
  const s = createModel('smallcnn', { numClasses: 3 });
  assert.ok(s instanceof SmallCNN);
  assert.deepEqual(s.config, { name: 'smallcnn', inChannels: 3, numClasses: 3 });
  s.dispose();
});

test('a model config rebuilds the same architecture; bad arguments are named', () => {
  manualSeed(0);
  const a = createModel('resnet20', { inChannels: 1, numClasses: 100 });
  const stored = JSON.parse(JSON.stringify(a.config)) as ModelArgs & { name: string };
  const b = createModel(stored.name, stored);
  assert.deepEqual(b.config, a.config);
  const shapes = (m: typeof a): string => JSON.stringify(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
  assert.equal(shapes(b), shapes(a));
  b.loadStateDict(a.stateDict());
  scope(() => {
    const x = Tensor.randn([2, 1, 16, 16]);
    assert.ok(a.eval().forward(x).equal(b.eval().forward(x)));
  });
  a.dispose();
  b.dispose();
  assert.throws(() => createModel('resnet20', { numClasses: 0 }), { message: 'resnet20: numClasses must be a positive integer, got 0' });
  assert.throws(() => createModel('smallcnn', { inChannels: 1.5 }), { message: 'smallcnn: inChannels must be a positive integer, got 1.5' });
  assert.throws(() => createModel('resnet32', { depth: 3 } as ModelArgs), { message: 'resnet32: unknown argument depth (known: inChannels, numClasses)' });
  assert.throws(() => createModel('resnet32', { name: 'resnet20' }), { message: "resnet32: config names another model ('resnet20')" });
});
