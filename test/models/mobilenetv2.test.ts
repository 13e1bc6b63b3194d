// The registry's mobilenetv2 (src/models/mobilenetv2.ts): shapes for 28×28 and 32×32 inputs, the
// parameter count of the architecture's formula, argument errors, training, what quantize()
// wraps, ONNX Runtime on the FP and a W4A4 QDQ export, PyTorch on the saved state dict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, GraphModel, MOBILENETV2_STAGES, MOBILENETV2_STEM, MOBILENETV2_HEAD, graphFpNodes } from '../../src/models';
import { QConv2d } from '../../src/quant';
import { testTrainingAndExport, quantizedCase, checkSizes, outputShape } from './graph-arch-checks';

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

test('mobilenetv2: logits for 28×28 (1 channel) and 32×32 (3 channels) images; the parameters of the formula', () => checkSizes('mobilenetv2', formulaParams, (m) => {
  assert.equal(m.numParameters(), 223_914);
  assert.throws(() => outputShape(m, 1, [1, 32, 32]), { message: 'graph: expected input [N, 1, 28, 28], got [1, 1, 32, 32]' });
}));

test('mobilenetv2: bad arguments are refused in one line', () => {
  assert.throws(() => createModel('mobilenetv2', { imageSize: 4 }), { message: 'mobilenetv2: imageSize 4 is too small (at least 8: two stride-2 stages)' });
  assert.throws(() => createModel('mobilenetv2', { imageSize: 27.5 }), { message: 'mobilenetv2: imageSize must be a positive integer, got 27.5' });
  assert.throws(() => createModel('mobilenetv2', { numClasses: 0 }), { message: 'mobilenetv2: numClasses must be a positive integer, got 0' });
  assert.throws(() => createModel('mobilenetv2', { width: 2 } as never), { message: 'mobilenetv2: unknown argument width (known: inChannels, numClasses, imageSize)' });
  assert.throws(() => createModel('resnet20', { imageSize: 28 }), { message: 'resnet20: unknown argument imageSize (known: inChannels, numClasses)' });
});

testTrainingAndExport('mobilenetv2', 0.7);

test('mobilenetv2: quantize() wraps every conv but the stem (depthwise per output channel) and not the classifier; W4A4 QDQ in ORT has gdnsq\'s top-1', () => quantizedCase('mobilenetv2', (m, r) => {
  const convs = Object.entries((m as GraphModel).desc.modules).filter(([, s]) => s.type === 'Conv2d').map(([n]) => n);
  assert.deepEqual(r.layers.map((l) => `${l.name}:${l.type}`), convs.slice(1).map((n) => `${n}:QConv2d`));
  assert.deepEqual(r.fp, [{ name: 'stem.conv', reason: 'first conv' }, { name: 'classifier', reason: 'last linear' }]);
  const dw = m.getSubmodule('blocks.1.dw.conv');
  assert.ok(dw instanceof QConv2d && dw.groups === 96);
  assert.equal(dw.weight_quant.channels, 96, 'one step per depthwise filter');
  assert.equal(r.layers.filter((l) => l.name.endsWith('.dw.conv') && l.perChannel).length, MOBILENETV2_STAGES.reduce((s, [, , n]) => s + n, 0));
  assert.deepEqual(graphFpNodes((m as GraphModel).desc), ['graph nodes kept FP (no weights; their outputs feed the next layer\'s input quantizer): 19 Clip, 5 Add, 1 GlobalAveragePool']);
}));
