// The browser demo end to end: a small quantized model exported here, served with the page by
// examples/web/server.js, run by onnxruntime-web (WASM, one thread) in headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core), compared with gdnsq's own forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportOnnx, gdnsqLogits } from '../../src/export/onnx';
import { makeModel, NORM } from '../export/onnx-fixtures';

const CHROMIUM = '/usr/bin/chromium';
const root = path.join(__dirname, '..', '..', '..');
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium; scripts/setup.sh does it as root)`;

interface Server { url: string; close(): Promise<void> }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startServer } = require(path.join(root, 'examples', 'web', 'server.js')) as { startServer(o: { model: string }): Promise<Server> };

test('the web demo classifies the shipped test images in headless Chromium as gdnsq does', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-web-'));
  const model = makeModel('smallcnn', { wStart: 2, aStart: 2, quantizeFirst: true }, 3);
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, exportOnnx(model, { normalize: NORM }).bytes);
  const server = await startServer({ model: file });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    // A string, evaluated in the page (this project compiles without the DOM types).
    const r = await page.evaluate(`(async () => {
      const d = await window.demo;
      return { n: d.n, logits: d.logits, labels: d.labels, info: document.getElementById('info').textContent, accuracy: document.getElementById('accuracy').textContent };
    })()`) as { n: number; logits: number[]; labels: number[]; info: string; accuracy: string };
    assert.deepEqual(errors, []);
    const samples = fs.readFileSync(path.join(root, 'examples', 'web', 'samples.bin'));
    const n = samples.length / 785;
    assert.equal(r.n, n);
    assert.deepEqual(r.labels, Array.from(samples.subarray(0, n)));
    const pixels = Float32Array.from(samples.subarray(n), (v) => v / 255);
    const ours = gdnsqLogits(model, pixels, [n, 1, 28, 28], NORM);
    // As in test/export/onnx.test.ts: 2e-5 apart but for an image whose activation code a
    // float rounding flipped; the same top-1 on all but at most one image.
    let off = 0, other = 0, correct = 0;
    const argmax = (a: ArrayLike<number>, i: number): number => { let b = 0; for (let j = 1; j < 10; j++) if (a[i * 10 + j] > a[i * 10 + b]) b = j; return b; };
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0; j < 10; j++) d = Math.max(d, Math.abs(r.logits[i * 10 + j] - ours[i * 10 + j]));
      if (d > 2e-5) off++;
      if (argmax(r.logits, i) !== argmax(ours, i)) other++;
      if (argmax(r.logits, i) === r.labels[i]) correct++;
    }
    assert.ok(off <= 2, `${off}/${n} images with logits more than 2e-5 apart`);
    assert.ok(other <= 1, `${other}/${n} images with another top-1`);
    assert.equal(r.accuracy, `${correct}/${n} of these test images classified correctly`);
    // Drawing on the pad classifies the drawing when the pen lifts.
    await page.click('#clear');
    assert.equal(await page.textContent('#prediction'), '');
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.8, { steps: 12 });
    await page.mouse.up();
    await page.waitForFunction('document.getElementById("prediction").textContent !== ""');
    assert.match((await page.textContent('#prediction'))!, /^(T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) \(\d+\.\d%\)$/);
    assert.match(r.info, new RegExp(`^model: ${(fs.statSync(file).size / 1024).toFixed(1)} KiB ONNX .*ONNX Runtime Web \\d+\\.\\d+\\.\\d+ \\(WASM, 1 thread\\)$`));
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
