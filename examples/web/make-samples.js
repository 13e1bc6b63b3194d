#!/usr/bin/env node
// Writes samples.bin for the demo page: the first N Fashion-MNIST test images, as N label bytes
// then N × 28 × 28 pixel bytes (row-major). Needs the dataset (apt-get install
// dataset-fashion-mnist) and a built gdnsq (npm run build).
//   node examples/web/make-samples.js [N=100]
'use strict';
const fs = require('fs');
const path = require('path');
const { loadDataset } = require('../../dist/src/data');

const n = Number(process.argv[2] || 100);
const test = loadDataset('fashion-mnist').test;
const size = test.height * test.width;
const out = Buffer.alloc(n + n * size);
for (let i = 0; i < n; i++) out[i] = test.labels[i];
Buffer.from(test.images.buffer, test.images.byteOffset, n * size).copy(out, n);
fs.writeFileSync(path.join(__dirname, 'samples.bin'), out);
console.log(`samples.bin: ${n} test images (${out.length} bytes)`);
