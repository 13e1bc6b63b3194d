// The committed grids of the two new architectures (experiments/grid/fashion-mnist-{mobilenetv2,vit}.json):
// the issue's rows at 10 epochs of batch 128, teachers at the recipes' paths, goals; each training
// row's descent is one the ResNet-20 grid plans too (config.test.ts checks those are feasible).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { packageRoot } from '../../src/engine/native';
import { loadGridConfig, trainingOptions, GridConfig } from '../../src/experiment';

/** What a training row's planned descent depends on: its budget, start and smallest target. */
function descents(c: GridConfig): Set<string> {
  return new Set(c.rows.filter((r) => r.method === 'gdnsq' || r.method === 'fixed').map((r) => {
    const { quantize: q, finetune: f } = trainingOptions(r);
    return `${r.method} ${r.budget.epochs}×${r.budget.batchSize} from ${f.startBits ?? 10} to ${Math.min(q.wBits, q.aBits)}`;
  }));
}
const resnet = descents(loadGridConfig(path.join(packageRoot, 'experiments', 'grid', 'fashion-mnist-resnet20.json')));

const GOALS: Record<string, Record<string, number>> = { mobilenetv2: { W4A4: 0.5, W2A2: 2.0 }, vit: { W4A4: 0.5, W2A2: 2.5 } };

for (const arch of ['mobilenetv2', 'vit']) {
  test(`the committed grid fashion-mnist-${arch}.json: the issue rows, 10 epochs, the recipe's teacher, descents the ResNet-20 grid plans`, () => {
    const c = loadGridConfig(path.join(packageRoot, 'experiments', 'grid', `fashion-mnist-${arch}.json`));
    assert.equal(c.teacher, path.join(packageRoot, 'models', `${arch}-fashion-mnist.safetensors`));
    assert.equal(c.results, path.join(packageRoot, 'experiments', 'results', `fashion-mnist-${arch}.json`));
    assert.deepEqual(c.rows.map((r) => `${r.name}:${r.method}`), ['FP:fp', 'W4A4-ptq:ptq', 'W2A2-ptq:ptq', 'W4A4:gdnsq', 'W3A3:gdnsq', 'W2A2-fixed:fixed', 'W2A2:gdnsq']);
    assert.ok(c.rows.every((r) => r.budget.epochs === 10 && r.budget.batchSize === 128 && r.seeds.length === 1 && r.seeds[0] === 0));
    assert.deepEqual(c.compare.goals, GOALS[arch]);
    assert.deepEqual(c.compare.beats, { W2A2: 'W2A2-fixed' });
    for (const d of descents(c)) assert.ok(resnet.has(d), `${d}: no ResNet-20 row plans this descent`);
  });
}
