// ONNX in, GDNSQ, ONNX out, on the PyTorch fixtures (test/fixtures/onnx): import → a short
// planned descent to W4A4 (from 6 bits, 225 steps of 16 images) → the checkpoint's QDQ export in
// ONNX Runtime gives the top-1 gdnsq reports. Short runs: they prove the pipeline converges and
// agrees with itself, not the accuracy a full budget reaches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { importOnnx } from '../../src/export/import-onnx';
import { runQuantize, QuantizeCliOptions } from '../../src/cli/quantize';
import { runExport } from '../../src/cli/export';
import { OnnxComparison } from '../../src/export/onnx';
import { exportPacked } from '../../src/export/packed';
import { load } from '../../src/runtime';
import { loadDataset } from '../../src/data';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-onnx-q-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
/** Runs fn with stdout and stderr captured (quantize reports on stderr, its results on stdout). */
const quiet = async <T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> => {
  const log = console.log, write = process.stderr.write;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => { lines.push(a.map(String).join(' ')); };
  process.stderr.write = ((chunk: string | Uint8Array) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    return { value: await fn(), out: lines.join('\n') };
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
};

// Which layers each fixture quantizes (default rules: first conv, last linear, 1×1 shortcuts FP).
// packed: the quantized layers the packed runtime runs on its integer kernels (plain and
// depthwise convolutions, linears: all of them in these fixtures).
const CASES: Record<string, { quantized: number; fp: string[]; graphFp?: RegExp; packed: number }> = {
  resnet: { packed: 4, quantized: 4, fp: ['conv1 (first conv)', 'layer2.0.downsample.0 (shortcut)', 'fc (last linear)'] },
  mobilenetv2: { packed: 12, quantized: 12, fp: ['features.0.0.Conv (first conv)', 'classifier.1 (last linear)'] },
  vit: { packed: 8, quantized: 8, fp: ['patch_embed (first conv)', 'head (last linear)'], graphFp: /activation × activation MatMul and Softmax output.*: 4 MatMul, 2 Softmax/ },
};

for (const [name, want] of Object.entries(CASES)) {
  test(`${name}: ONNX → GDNSQ W4A4 → QDQ ONNX; ORT's top-1 equals gdnsq's`, async () => {
    const teacher = path.join(dir, `${name}.safetensors`);
    importOnnx({ from: path.join(root, 'test', 'fixtures', 'onnx', `${name}.onnx`), out: teacher, dataset: 'fashion-mnist' }).model.dispose();
    const o: QuantizeCliOptions = {
      teacher, wbits: 4, abits: 4, epochs: 3, method: 'noise', actMethod: 'noise', loss: 'skl',
      schedule: 'planned', descent: 0.4, descentShape: 'ease-out', holdDrop: 0.2, lrDecayPerEpoch: 0.93,
      out: path.join(dir, `q-${name}`), batchSize: 16, lr: 1e-3, kappa: 2, startBits: 6,
      calibBatches: 4, bn: 'keep', valSize: 200, trainLimit: 1200, seed: 0, threads: undefined, progress: false,
      logEvery: 50, cropPadding: 0, hflip: false,
    };
    const { value: s, out } = await quiet(() => runQuantize(o));
    assert.match(out, new RegExp(`quantized ${want.quantized} layers`));
    for (const f of want.fp) assert.ok(out.includes(f), `'${f}' missing from:\n${out}`);
    if (want.graphFp) assert.match(out, want.graphFp);
    assert.equal(s.converged, true);
    assert.ok(s.wbits_max <= 4 && s.abits_max <= 4, `true bits W ${s.wbits_max} A ${s.abits_max}`);
    // Floor for 225 steps: within 10 points of the FP model (measured: 0.6–5.4 points below).
    assert.ok(s.quant_top1! >= s.fp_top1! - 0.1, `W4A4 top-1 ${s.quant_top1} vs FP ${s.fp_top1}`);

    const file = path.join(dir, `${name}-w4a4.onnx`);
    const { value: e } = await quiet(() => runExport({ checkpoint: path.join(o.out, s.checkpoint), format: 'onnx', out: file, verify: true, batchSize: 1000, json: true }));
    const c = e.verify as OnnxComparison;
    assert.equal(c.n, 10000);
    assert.equal(e.opset, 21, 'W4A4 codes go in uint4 (opset 21)');
    // gdnsq eval's number (the run's test top-1) and ORT's on the exported file: equal, up to one
    // image whose activation lies within float rounding of a step boundary (its code flips).
    assert.ok(Math.abs(c.top1Gdnsq - s.quant_top1!) < 1e-9, `gdnsq forward ${c.top1Gdnsq} vs the run's ${s.quant_top1}`);
    assert.ok(Math.abs(c.top1Onnx - c.top1Gdnsq) <= 1 / c.n + 1e-12, `ORT ${c.top1Onnx} vs gdnsq ${c.top1Gdnsq}`);
    assert.ok(c.samePredictions >= c.n - 1, `same prediction on ${c.samePredictions}/${c.n}`);

    // The packed file in the packed runtime: the layers it supports on the integer kernels, the
    // rest on libtorch (named with the reason); its top-1 is gdnsq's up to float rounding.
    const packedFile = path.join(dir, `${name}.packed.safetensors`);
    exportPacked(path.join(o.out, s.checkpoint), packedFile);
    const rt = load(packedFile);
    try {
      assert.equal(rt.layers.filter((l) => l.runtime === 'packed').length, want.packed, JSON.stringify(rt.layers));
      assert.ok(rt.layers.filter((l) => l.runtime === 'libtorch').every((l) => l.reason));
      const test = loadDataset('fashion-mnist').test;
      const pred = rt.classify(test, 1000);
      let hits = 0;
      pred.forEach((p, i) => { hits += p === test.labels[i] ? 1 : 0; });
      assert.ok(Math.abs(hits / test.n - s.quant_top1!) <= 2 / test.n + 1e-12, `packed runtime ${hits / test.n} vs gdnsq ${s.quant_top1}`);
    } finally {
      rt.dispose();
    }
  });
}
