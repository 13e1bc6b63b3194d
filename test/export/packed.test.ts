import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, noGrad, manualSeed } from '../../src/engine';
import { loadSafetensors, saveSafetensors } from '../../src/engine/safetensors';
import { createModel, Model } from '../../src/models';
import { quantize, calibrate, quantizedLayers, QuantizeOptions, QuantizedLayer } from '../../src/quant';
import { ModelCard, saveModelFile } from '../../src/train';
import { loadModel } from '../../src/cli/model-file';
import { savePacked, loadPacked, exportPacked } from '../../src/export/packed';
import { unpackCodes, PackedHeader } from '../../src/export/packed-format';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-packed-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function card(model: Model, options: QuantizeOptions): ModelCard {
  return { model: model.config.name, args: { ...model.config }, dataset: 'fashion-mnist', normalize: { mean: [0.5], std: [0.25] }, quant: { options } };
}

/** A quantized, calibrated model: weights start at `bits` bits (so their true width is `bits`). */
function quantized(name: string, options: QuantizeOptions, bits: number, inChannels = 1, hw = 12): Model {
  const m = createModel(name, { inChannels, numClasses: 5 });
  quantize(m, options);
  scope(() => { calibrate(m, [Tensor.randn([4, inChannels, hw, hw])], { startBits: bits }); });
  return m;
}

test('a packed file restores code·s + lo bit for bit and gives the same eval logits', () => {
  manualSeed(3);
  // SmallCNN with every layer quantized per channel at 3 bits, conv2 recalibrated to 1 bit.
  const o: QuantizeOptions = { wBits: 3, aBits: 3, quantizeFirst: true, quantizeLast: true, perChannel: true };
  const m = quantized('smallcnn', o, 3);
  noGrad(() => scope(() => { // conv2 down to 1 bit: σ = log2(range) per channel
    const l = m.getSubmodule('conv2') as QuantizedLayer;
    l.weight_quant.calibrateWeight(l.weight, 1);
  }));
  const file = path.join(dir, 'small.packed.safetensors');
  const header = savePacked(m, card(m, o), file);
  assert.deepEqual(Object.fromEntries(Object.entries(header.layers).map(([k, l]) => [k, l.bits])), { conv1: 3, conv2: 1, conv3: 3, fc: 3 });
  const { model: r, card: c } = loadPacked(file);
  assert.equal(c.model, 'smallcnn');
  assert.deepEqual(c.quant, { options: o });
  m.eval(); r.eval();
  scope(() => {
    const rl = new Map(quantizedLayers(r));
    for (const [name, l] of quantizedLayers(m)) {
      const want = noGrad(() => l.weight_quant.forward(l.weight));
      assert.ok(rl.get(name)!.weight.equal(want), `${name}: restored weight is not the fake-quantized weight`);
      assert.ok(l.weight_quant.codes(l.weight).equal(rl.get(name)!.weight_quant.codes(rl.get(name)!.weight)), `${name} codes`);
    }
    const x = Tensor.randn([3, 1, 12, 12]);
    assert.ok(noGrad(() => r.forward(x)).equal(noGrad(() => m.forward(x))), 'eval logits differ');
  });
  // The file holds codes instead of weights, and nothing else changed.
  scope(() => {
    const { tensors } = loadSafetensors(file);
    assert.equal(tensors['conv2.weight'], undefined);
    assert.equal(tensors['conv2.weight_codes'].dtype, 'uint8');
    assert.equal(tensors['conv2.weight_codes'].size(0), (32 * 16 * 9) / 8);
    assert.equal(tensors['conv1.weight_codes'].size(0), Math.ceil((16 * 9 * 3) / 8));
    assert.deepEqual(tensors['conv1.weight_scale'].shape, [16]);
    assert.ok(tensors['bn1.running_var'].equal(m.stateDict()['bn1.running_var']));
    const codes = unpackCodes(tensors, 'conv2', header.layers.conv2);
    assert.ok(codes.to('int64').equal(quantizedLayers(m)[1][1].weight_quant.codes(quantizedLayers(m)[1][1].weight)));
  });
  m.dispose(); r.dispose();
});

test('per-tensor weights and a checkpoint loaded through loadModel (as gdnsq eval does)', () => {
  manualSeed(4);
  const o: QuantizeOptions = { wBits: 4, aBits: 4, perChannel: false };
  const m = quantized('smallcnn', o, 4);
  const ckpt = path.join(dir, 'small.safetensors');
  saveModelFile(ckpt, m.stateDict(), card(m, o));
  const out = path.join(dir, 'small4.packed.safetensors');
  const e = exportPacked(ckpt, out);
  assert.equal(e.bytes, fs.statSync(out).size);
  assert.deepEqual(e.layers.map((l) => [l.name, l.bits, l.params, l.packedBytes]), [
    ['conv2', 4, 32 * 16 * 9, (32 * 16 * 9) / 2 + 8], ['conv3', 4, 32 * 32 * 9, (32 * 32 * 9) / 2 + 8],
  ]);
  const a = loadModel(ckpt).model.eval(), b = loadModel(out).model.eval();
  scope(() => {
    const x = Tensor.randn([2, 1, 10, 10]);
    assert.ok(noGrad(() => a.forward(x)).equal(noGrad(() => b.forward(x))));
  });
  a.dispose(); b.dispose(); m.dispose();
});

test('a W2 ResNet-20 packs its quantized layers into exactly 1/16 of their FP32 bytes (plus 8 bytes per channel)', () => {
  manualSeed(5);
  const o: QuantizeOptions = { wBits: 2, aBits: 2 };
  const m = quantized('resnet20', o, 2, 3, 8);
  const file = path.join(dir, 'r20.packed.safetensors');
  const header: PackedHeader = savePacked(m, card(m, o), file);
  const layers = Object.entries(header.layers);
  assert.equal(layers.length, 18);
  let params = 0, codeBytes = 0, channels = 0;
  scope(() => {
    const { tensors } = loadSafetensors(file);
    for (const [name, l] of layers) {
      assert.equal(l.bits, 2, name);
      const n = l.shape.reduce((x, y) => x * y, 1);
      params += n; channels += l.shape[0];
      codeBytes += tensors[`${name}.weight_codes`].size(0);
    }
  });
  // 6 convs of 16·16·9, 6 of (32·16·9 or 32·32·9), 6 of 64·…: 18 inner convs of ResNet-20.
  assert.equal(params, 16 * 16 * 9 * 6 + 32 * 16 * 9 + 32 * 32 * 9 * 5 + 64 * 32 * 9 + 64 * 64 * 9 * 5);
  assert.equal(codeBytes * 16, params * 4, 'codes take exactly 1/16 of the FP32 bytes');
  assert.equal(channels, 6 * 16 + 6 * 32 + 6 * 64);
  // The whole file: the codes, 8 bytes of step and lower bound per channel, and the FP rest.
  const fpRest = scope(() => Object.entries(m.stateDict()).filter(([k]) => !header.layers[k.replace(/\.weight$/, '')])
    .reduce((s, [, t]) => s + t.shape.reduce((x, y) => x * y, 1) * ({ float32: 4, int64: 8, uint8: 1 } as Record<string, number>)[t.dtype], 0));
  const headerBytes = 8 + Number(fs.readFileSync(file).readBigUInt64LE(0));
  assert.equal(fs.statSync(file).size, headerBytes + codeBytes + 8 * channels + fpRest);
  m.dispose();
});

test('bad packed files fail with one line naming the problem', () => {
  manualSeed(6);
  const o: QuantizeOptions = { wBits: 2, aBits: 2 };
  const m = quantized('smallcnn', o, 2);
  const good = path.join(dir, 'good.packed.safetensors');
  savePacked(m, card(m, o), good);
  const rewrite = (name: string, edit: (t: Record<string, Tensor>, meta: Record<string, string>) => void): string => scope(() => {
    const { tensors, metadata } = loadSafetensors(good);
    edit(tensors, metadata);
    const f = path.join(dir, name);
    saveSafetensors(f, tensors, metadata);
    return f;
  });
  const oneLine = (f: string, re: RegExp): void => {
    assert.throws(() => loadPacked(f), (e: Error) => re.test(e.message) && !e.message.includes('\n'), `${f}`);
  };
  const truncated = path.join(dir, 'truncated.safetensors');
  fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 3000));
  assert.throws(() => loadModel(truncated), /truncated\.safetensors: .*(beyond file size|outside the)/);
  oneLine(rewrite('version.safetensors', (_, meta) => { meta.packed = meta.packed.replace('"version":1', '"version":7'); }),
    /packed format version 7 is not supported \(this gdnsq reads version 1\)$/);
  oneLine(rewrite('nocodes.safetensors', (t) => { delete t['conv3.weight_codes']; }), /not a valid packed file \(layer 'conv3' lacks conv3\.weight_codes\)$/);
  oneLine(rewrite('short.safetensors', (t) => { t['conv2.weight_codes'] = Tensor.zeros([10], 'uint8'); }),
    /conv2\.weight_codes must be 1152 uint8 bytes for 4608 codes of 2 bits, got uint8 \[10\]/);
  oneLine(rewrite('plain.safetensors', (_, meta) => { delete meta.format; }), /not a packed file \(no format 'gdnsq-packed' metadata\)$/);
  // A checkpoint that is not quantized has nothing to pack.
  const fp = path.join(dir, 'fp.safetensors');
  const f = createModel('smallcnn', { inChannels: 1, numClasses: 5 });
  saveModelFile(fp, f.stateDict(), { model: 'smallcnn', args: { ...f.config }, dataset: 'fashion-mnist', normalize: { mean: [0], std: [1] } });
  assert.throws(() => exportPacked(fp, path.join(dir, 'x.safetensors')), /fp\.safetensors: packed: the model has no quantized weights to pack$/);
  f.dispose(); m.dispose();
});
