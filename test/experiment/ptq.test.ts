// The PTQ baseline: min-max grids at the target bit-widths, so every weight channel's codes span
// exactly 0..2^B − 1, every activation grid has exactly 2^B levels, the true bits never exceed
// the targets (also mixed ones: W1A32, a layer at 3 bits), the grid check passes on fresh data,
// the teacher is left as it was, and the card rebuilds the same model from a saved file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, scope, noGrad, manualSeed } from '../../src/engine';
import { createModel, Model } from '../../src/models';
import { QuantizeOptions, quantizerBits, quantizedLayers, verifyGrid, resetObservedCodes } from '../../src/quant';
import { ModelCard, saveModelFile, loadModel } from '../../src/train';
import { ptq } from '../../src/experiment';

const card = (m: Model): ModelCard => ({ model: 'smallcnn', args: { ...m.config }, dataset: 'idx', normalize: { mean: [0.5], std: [0.25] } });
function* batches(n: number): Generator<Tensor> {
  for (let i = 0; i < n; i++) yield Tensor.randn([16, 1, 8, 8]);
}

function teacher(): Model {
  manualSeed(3);
  const m = createModel('smallcnn', { inChannels: 1, numClasses: 10 });
  // Trained-looking BatchNorm statistics, so activations differ between layers.
  scope(() => noGrad(() => { m.train(true); for (const x of batches(3)) scope(() => { m.forward(x); }); m.eval(); }));
  return m;
}

const settings: [string, QuantizeOptions][] = [
  ['W2A2', { wBits: 2, aBits: 2 }],
  ['W1A32', { wBits: 1, aBits: 32 }],
  ['W4A2 + first/last, conv2 at 3 bits', { wBits: 4, aBits: 2, quantizeFirst: true, quantizeLast: true, layers: { conv2: { wBits: 3, aBits: 3 } } }],
];

for (const [name, q] of settings) {
  test(`ptq ${name}: full min-max grids at the targets, true bits ≤ target, on-grid codes`, () => {
    const t = teacher();
    const before = scope(() => Object.fromEntries(Object.entries(t.stateDict()).map(([k, v]) => [k, v.clone().keep()])));
    const r = ptq({ teacher: t, teacherCard: card(t), quantize: q, calibration: batches(5), calibBatches: 3 });
    try {
      assert.equal(r.calibration.batches, 3);
      let weights = 0, acts = 0;
      for (const [layer, l] of quantizedLayers(r.model)) {
        const w = l.weight_quant;
        if (w.enabled) {
          weights++;
          scope(() => {
            const c = w.codes(l.weight).reshape([l.weight.size(0), -1]);
            assert.deepEqual([...c.amin([1]).toArray()].map(Number), Array(l.weight.size(0)).fill(0), `${layer}: lowest code per channel`);
            assert.deepEqual([...c.amax([1]).toArray()].map(Number), Array(l.weight.size(0)).fill(2 ** w.targetBits - 1), `${layer}: highest code per channel`);
          });
        }
        if (l.act_quant.enabled) {
          acts++;
          assert.equal(l.act_quant.capacityBits(), l.act_quant.targetBits, `${layer}: activation levels`);
        }
      }
      assert.ok(weights >= 2, 'weight quantizers checked');
      assert.equal(acts > 0, q.aBits < 32 || !!q.layers);
      // Fresh data, wider than the calibration batches: clamped, never past the top code.
      resetObservedCodes(r.model);
      const fresh = [...batches(2)].map((x) => x.mul(2).keep());
      const grid = verifyGrid(r.model, fresh);
      assert.ok(grid.length > 0 && grid.every((g) => g.ok && g.codeMin >= 0 && g.codeMax <= 2 ** g.target - 1), JSON.stringify(grid.filter((g) => !g.ok)));
      for (const b of quantizerBits(r.model)) assert.ok(b.trueBits <= b.target + 1e-9, `${b.name}: ${b.trueBits} > ${b.target}`);
      for (const [k, v] of Object.entries(t.stateDict())) assert.ok(v.equal(before[k]), `teacher ${k} changed`);

      // The card rebuilds it: a saved file loads into the same eval-mode function.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-ptq-'));
      try {
        saveModelFile(path.join(dir, 'p.safetensors'), r.model.stateDict(), r.card);
        const back = loadModel(path.join(dir, 'p.safetensors')).model;
        scope(() => noGrad(() => { r.model.eval(); back.eval(); assert.ok(back.forward(fresh[0]).equal(r.model.forward(fresh[0]))); }));
        back.dispose();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      for (const x of fresh) x.dispose();
    } finally {
      r.model.dispose();
      t.dispose();
      for (const v of Object.values(before)) v.dispose();
    }
  });
}
