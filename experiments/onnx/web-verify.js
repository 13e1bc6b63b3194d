#!/usr/bin/env node
// The shipped W2A2 ONNX model in the demo page (onnxruntime-web, WASM, one thread, headless
// Debian Chromium) on the whole Fashion-MNIST test set, next to gdnsq's own forward of the
// checkpoint it was exported from. Prints one JSON line.
//   node experiments/onnx/web-verify.js [model.onnx] [checkpoint.safetensors]
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');
const { startServer } = require('../../examples/web/server.js');
const { loadModel } = require('../../dist/src/cli/model-file');
const { loadDataset, BatchLoader } = require('../../dist/src/data');
const { noGrad, scope } = require('../../dist/src/engine');

const root = path.join(__dirname, '..', '..');
const onnx = path.resolve(process.argv[2] || path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.onnx'));
const ckpt = path.resolve(process.argv[3] || path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.safetensors'));
const argmax = (a, i) => { let b = 0; for (let j = 1; j < 10; j++) if (a[i * 10 + j] > a[i * 10 + b]) b = j; return b; };

async function main() {
  const { model, card } = loadModel(ckpt);
  model.train(false);
  const test = loadDataset('fashion-mnist').test;
  const raw = new BatchLoader({ dataset: test, batchSize: 500 });
  const norm = new BatchLoader({ dataset: test, batchSize: 500, normalize: card.normalize });
  const server = await startServer({ model: onnx });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  const t0 = Date.now();
  let web = 0, ours = 0, same = 0, maxDiff = 0, over = 0;
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    const env = await page.evaluate(async () => { await window.demo; return { ortWeb: ort.env.versions.web, userAgent: navigator.userAgent }; });
    for (let b = 0; b < raw.batchesPerEpoch; b++) {
      const a = raw.batchArrays(0, b);
      const x = Array.from(a.x.subarray(0, a.size * 784));
      const theirs = await page.evaluate(async ([px, n]) => (await window.demo).classify(px, n), [x, a.size]);
      const mine = noGrad(() => scope(() => Float32Array.from(model.forward(norm.batch(0, b).x).data())));
      for (let i = 0; i < a.size; i++) {
        const label = Number(a.y[i]);
        web += argmax(theirs, i) === label ? 1 : 0;
        ours += argmax(mine, i) === label ? 1 : 0;
        same += argmax(theirs, i) === argmax(mine, i) ? 1 : 0;
        let d = 0;
        for (let j = 0; j < 10; j++) d = Math.max(d, Math.abs(theirs[i * 10 + j] - mine[i * 10 + j]));
        maxDiff = Math.max(maxDiff, d);
        if (d > 1e-4) over++;
      }
    }
    const chromiumVersion = browser.version();
    console.log(JSON.stringify({
      model: path.relative(root, onnx), checkpoint: path.relative(root, ckpt), n: test.n, top1_web: web / test.n, top1_gdnsq: ours / test.n,
      same_prediction: same, max_abs_logit_diff: maxDiff, images_over_1e4: over, ort_web: env.ortWeb, chromium: chromiumVersion,
      backend: 'wasm, 1 thread', seconds: Math.round((Date.now() - t0) / 1000),
    }));
  } finally {
    await browser.close();
    await server.close();
  }
}
main().catch((e) => { console.error(`web-verify: ${e.message.split('\n')[0]}`); process.exit(1); });
