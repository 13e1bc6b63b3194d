// The registry's vit (src/models/vit.ts): shapes for 28×28 and 32×32 inputs, the parameter count
// of the architecture's formula, argument errors, training, what quantize() wraps and what stays
// FP, ONNX Runtime on the FP and a W4A4 QDQ export, PyTorch on the saved state dict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, GraphModel, VIT, graphFpNodes } from '../../src/models';
import { testTrainingAndExport, quantizedCase, checkSizes } from './graph-arch-checks';

/** Patch conv + positional embedding + blocks (2 LayerNorms, qkv, proj, fc1, fc2) + final LayerNorm + head. */
function formulaParams(inChannels: number, numClasses: number, imageSize: number): number {
  const { patch, dim: d, depth, mlp } = VIT;
  const linear = (i: number, o: number): number => i * o + o;
  const block = 2 * 2 * d + linear(d, 3 * d) + linear(d, d) + linear(d, mlp) + linear(mlp, d);
  return inChannels * patch * patch * d + d + (imageSize / patch) ** 2 * d + depth * block + 2 * d + linear(d, numClasses);
}

test('vit: logits for 28×28 (7×7 tokens) and 32×32 (8×8 tokens) images; the parameters of the formula', () => checkSizes('vit', formulaParams, (m) => {
  assert.equal(m.numParameters(), 105_418);
  const pos = m.namedParameters().find(([n]) => n === 'pos_embedding')![1];
  assert.deepEqual(pos.shape, [1, 49, VIT.dim]);
  const std = Math.sqrt(pos.pow(2).mean().item());
  assert.ok(std > 0.015 && std < 0.025, `positional embedding std ${std} (N(0, 0.02))`);
}));

test('vit: bad arguments are refused in one line', () => {
  assert.throws(() => createModel('vit', { imageSize: 30 }), { message: 'vit: imageSize 30 is not a multiple of the patch size 4 of at least 8' });
  assert.throws(() => createModel('vit', { imageSize: 4 }), { message: 'vit: imageSize 4 is not a multiple of the patch size 4 of at least 8' });
  assert.throws(() => createModel('vit', { imageSize: -28 }), { message: 'vit: imageSize must be a positive integer, got -28' });
  assert.throws(() => createModel('vit', { inChannels: 0 }), { message: 'vit: inChannels must be a positive integer, got 0' });
  assert.throws(() => createModel('vit', { depth: 6 } as never), { message: 'vit: unknown argument depth (known: inChannels, numClasses, imageSize)' });
});

testTrainingAndExport('vit', 0.9);

test('vit: quantize() wraps the attention and MLP Linears, not the patch embedding or the head; W4A4 QDQ in ORT has gdnsq\'s top-1', () => quantizedCase('vit', (m, r) => {
  const blocks = Array.from({ length: VIT.depth }, (_, i) => ['attn.qkv', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map((l) => `blocks.${i}.${l}`)).flat();
  assert.deepEqual(r.layers.map((l) => `${l.name}:${l.type}`), blocks.map((n) => `${n}:QLinear`));
  assert.ok(r.layers.every((l) => l.perChannel && l.bias === 'fp'));
  assert.deepEqual(r.fp, [{ name: 'patch_embed', reason: 'first conv' }, { name: 'head', reason: 'last linear' }]);
  // What quantize prints for the weightless nodes: attention's act × act products and Softmax stay FP.
  assert.deepEqual(graphFpNodes((m as GraphModel).desc), [
    'graph nodes kept FP (activation × activation MatMul and Softmax output: quantizing them is not supported yet): 6 MatMul, 3 Softmax',
    'graph nodes kept FP (no weights; their outputs feed the next layer\'s input quantizer): 10 Add, 9 Mul, 3 Div, 3 Erf, 1 ReduceMean',
  ]);
}));
