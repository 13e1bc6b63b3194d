#!/usr/bin/env node
// Loads ONNX files in a given onnxruntime-node install at its DEFAULT session options and
// reports, per file, whether the session is created and the Fashion-MNIST test top-1.
//   node experiments/onnx/ort-versions.js <folder with node_modules/onnxruntime-node> <file.onnx>...
// (needs a built gdnsq for the data reader; ORT installed with ONNXRUNTIME_NODE_INSTALL=skip)
'use strict';
const path = require('path');
const { loadDataset, BatchLoader } = require('../../dist/src/data');

async function main() {
  const [ortDir, ...files] = process.argv.slice(2);
  const ort = require(require.resolve('onnxruntime-node', { paths: [path.resolve(ortDir)] }));
  const version = require(require.resolve('onnxruntime-node/package.json', { paths: [path.resolve(ortDir)] })).version;
  const test = loadDataset('fashion-mnist').test;
  const loader = new BatchLoader({ dataset: test, batchSize: 1000 });
  for (const file of files) {
    const row = { ort: version, file: path.basename(file) };
    try {
      const session = await ort.InferenceSession.create(file, { logSeverityLevel: 4 });
      let hits = 0;
      for (let b = 0; b < loader.batchesPerEpoch; b++) {
        const a = loader.batchArrays(0, b);
        const x = new ort.Tensor('float32', a.x.slice(0, a.size * 784), [a.size, 1, 28, 28]);
        const logits = (await session.run({ pixels: x })).logits.data;
        for (let i = 0; i < a.size; i++) {
          let best = 0;
          for (let j = 1; j < 10; j++) if (logits[i * 10 + j] > logits[i * 10 + best]) best = j;
          if (best === Number(a.y[i])) hits++;
        }
      }
      Object.assign(row, { loads: true, top1: hits / test.n });
    } catch (e) {
      Object.assign(row, { loads: false, error: String(e.message).split('\n')[0].slice(-160) });
    }
    console.log(JSON.stringify(row));
  }
}
main().catch((e) => { console.error(`ort-versions: ${e.message}`); process.exit(1); });
