// The registry's mobilenetv2 (src/models/mobilenetv2.ts): shapes for 28×28 and 32×32 inputs, the
// parameter count of the architecture's formula, argument errors, training, what quantize()
// wraps, ONNX Runtime on the FP and a W4A4 QDQ export, PyTorch on the saved state dict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed } from '../../src/engine';
import { Conv2d } from '../../src/nn';
import { createModel, GraphModel, MOBILENETV2_STAGES, MOBILENETV2_STEM, MOBILENETV2_HEAD } from '../../src/models';
import { QConv2d } from '../../src/quant';
import { testImages, trainSteps, assertLossFalls, checkFpOnnx, checkQdqOnnx, checkTorch, torchSkip, withModel, outputShape } from './graph-arch-checks';

/** Conv weights (no bias) + BatchNorm γ, β per unit; the classifier's weight and bias. */
function formulaParams(inChannels: number, numClasses: number): number {
  const unit = (cin: number, cout: number, k: number, groups = 1): number => (cin / groups) * cout * k * k + 2 * cout;
  let n = unit(inChannels, MOBILENETV2_STEM, 3), width = MOBILENETV2_STEM;
  for (const [t, c, blocks] of MOBILENETV2_STAGES) {
    for (let i = 0; i < blocks; i++) {
      const h = width * t;
      n += (t === 1 ? 0 : unit(width, h, 1)) + unit(h, h, 3, h) + unit(h, c, 1);
      width = c;
    }
  }
  return n + unit(width, MOBILENETV2_HEAD, 1) + MOBILENETV2_HEAD * numClasses + numClasses;
}

test('mobilenetv2: logits for 28×28 (1 channel) and 32×32 (3 channels) images; the parameters of the formula', async () => {
  manualSeed(0);
  await withModel(() => createModel('mobilenetv2', { inChannels: 1, numClasses: 10 }), (m) => {
    assert.ok(m instanceof GraphModel);
    assert.deepEqual(m.config, { name: 'mobilenetv2', inChannels: 1, numClasses: 10, imageSize: 28 });
    assert.deepEqual(outputShape(m, 3, [1, 28, 28]), [3, 10]);
    assert.equal(m.numParameters(), formulaParams(1, 10));
    assert.equal(m.numParameters(), 223_914);
    assert.throws(() => outputShape(m, 1, [1, 32, 32]), { message: 'graph: expected input [N, 1, 28, 28], got [1, 1, 32, 32]' });
  });
  await withModel(() => createModel('mobilenetv2', { numClasses: 100 }), (m) => {
    assert.deepEqual(m.config, { name: 'mobilenetv2', inChannels: 3, numClasses: 100, imageSize: 32 });
    assert.deepEqual(outputShape(m, 2, [3, 32, 32]), [2, 100]);
    assert.equal(m.numParameters(), formulaParams(3, 100));
  });
});

test('mobilenetv2: bad arguments are refused in one line', () => {
  assert.throws(() => createModel('mobilenetv2', { imageSize: 4 }), { message: 'mobilenetv2: imageSize 4 is too small (at least 8: two stride-2 stages)' });
  assert.throws(() => createModel('mobilenetv2', { imageSize: 27.5 }), { message: 'mobilenetv2: imageSize must be a positive integer, got 27.5' });
  assert.throws(() => createModel('mobilenetv2', { numClasses: 0 }), { message: 'mobilenetv2: numClasses must be a positive integer, got 0' });
  assert.throws(() => createModel('mobilenetv2', { width: 2 } as never), { message: 'mobilenetv2: unknown argument width (known: inChannels, numClasses, imageSize)' });
  assert.throws(() => createModel('resnet20', { imageSize: 28 }), { message: 'resnet20: unknown argument imageSize (known: inChannels, numClasses)' });
});

test('mobilenetv2: a few Adam steps reduce the loss on a small batch; FP export in ORT and the checkpoint in PyTorch give its logits', async (t) => {
  manualSeed(1);
  const images = testImages(32);
  await withModel(() => createModel('mobilenetv2', { inChannels: 1 }), async (m) => {
    assertLossFalls(trainSteps(m, images, 6, 2e-3), 0.7);
    // Trained BatchNorm statistics (not their 0/1 start) go through ORT and PyTorch.
    await checkFpOnnx(m, images);
    await t.test('PyTorch (test/models/torch_models.py) loads the state dict strictly and gives the same logits', { skip: torchSkip }, () => {
      checkTorch(m, images);
    });
  });
});

test('mobilenetv2: quantize() wraps every conv but the stem (depthwise per output channel) and not the classifier; W4A4 QDQ in ORT has gdnsq\'s top-1', async () => {
  manualSeed(2);
  const images = testImages(32);
  await withModel(() => createModel('mobilenetv2', { inChannels: 1 }), async (m) => {
    trainSteps(m, images, 2, 2e-3);
    const convs = m.namedModules().filter(([, l]) => l instanceof Conv2d).map(([n]) => n);
    const r = await checkQdqOnnx(m, images);
    assert.deepEqual(r.layers.map((l) => l.name), convs.slice(1));
    assert.deepEqual(r.fp, [{ name: 'stem.conv', reason: 'first conv' }, { name: 'classifier', reason: 'last linear' }]);
    const dw = m.getSubmodule('blocks.1.dw.conv');
    assert.ok(dw instanceof QConv2d && dw.groups === 96);
    assert.equal(dw.weight_quant.channels, 96, 'one step per depthwise filter');
    assert.equal(r.layers.filter((l) => l.name.endsWith('.dw.conv')).length, MOBILENETV2_STAGES.reduce((s, [, , n]) => s + n, 0));
  });
});
