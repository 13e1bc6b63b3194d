import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readRun, bitsSpec, trainingSpec, renderSvg } from '../../src/report';
import { quantizeRun, trainRun, tempDir } from './fixtures';

const count = (s: string, sub: string): number => s.split(sub).length - 1;
// Vertices of each rendered line, in drawing order.
const lineVertices = (svg: string): number[] => [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => (m[1].match(/[ML]/g) ?? []).length);

test('bitsSpec has one true-bits point per quantizer and logged step, grouped by role', () => {
  const spec = bitsSpec(readRun(quantizeRun(path.join(tempDir('plots'), 'q')))) as unknown as { data: { values: Record<string, unknown>[] } };
  const v = spec.data.values;
  assert.equal(v.length, 5 * 4);
  assert.deepEqual(v.filter((p) => p.layer === 'blockB.fc' && p.group === 'activations').map((p) => [p.step, p.bits, p.target]),
    [[1, 8], [50, 6], [60, 5], [100, 3.5], [120, 3.31]].map(([s, a]) => [s, a + 0.3219, 3]));
  assert.deepEqual(v.filter((p) => p.layer === 'blockA.conv' && p.group === 'weights').map((p) => p.bits), [7.75, 4.75, 3.75, 2.25, 1.75]);
});

test('bitsSpec refuses a quantize run whose records carry no per-layer bits', () => {
  const dir = tempDir('plots');
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"kind":"step","step":1,"loss":0.1}\n');
  assert.throws(() => bitsSpec(readRun(dir)), { message: `${dir}: no record has per-layer bits to plot` });
});

test('the bits plot renders one line per layer and role and the target of each role as a rule', async () => {
  const svg = await renderSvg(bitsSpec(readRun(quantizeRun(path.join(tempDir('plots'), 'q')))));
  assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.deepEqual(lineVertices(svg), [5, 5, 5, 5]);
  assert.equal(count(svg, 'aria-label="Max of target: 2"'), 1);
  assert.equal(count(svg, 'aria-label="Max of target: 3"'), 1);
  for (const text of ['>weights<', '>activations<', '>blockA.conv<', '>blockB.fc<', '>true bits<', '>step<', 'True bit-width per quantized layer']) {
    assert.ok(svg.includes(text), `bits.svg lacks ${text}`);
  }
  assert.ok(svg.includes('aria-label="step: 1; true bits: 8.3219; layer: blockB.fc"'));
});

test('the training plot of a quantize run shows top-1 against the FP teacher, loss and temperature', async () => {
  const svg = await renderSvg(trainingSpec(readRun(quantizeRun(path.join(tempDir('plots'), 'q')))));
  assert.ok(svg.startsWith('<svg'));
  for (const text of ['>top-1 (%)<', '>epoch<', 'FP teacher (test) 91.23%', 'quantized (test) 88.76%', '>Task (distillation) loss<', '>Penalty temperature<', '>validation<']) {
    assert.ok(svg.includes(text), `training.svg lacks ${text}`);
  }
  assert.ok(svg.includes('aria-label="step: 1; t: 0; series: temperature t"'));
  // top-1: train and validation over 2 epochs; loss and t over the 3 logged steps.
  assert.deepEqual(lineVertices(svg), [2, 2, 3, 3]);
});

test('the training plot of an FP run shows loss and top-1 per epoch, train against validation', async () => {
  const svg = await renderSvg(trainingSpec(readRun(trainRun(path.join(tempDir('plots'), 't')))));
  assert.ok(svg.startsWith('<svg'));
  for (const text of ['>cross-entropy<', '>top-1 (%)<', '>train<', '>validation<']) assert.ok(svg.includes(text), `training.svg lacks ${text}`);
  assert.ok(!svg.includes('FP teacher'));
  assert.ok(svg.includes('aria-label="epoch: 1; cross-entropy: 1; series: train"'));
  assert.deepEqual(lineVertices(svg), [3, 3, 3, 3]);
});
