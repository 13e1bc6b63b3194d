import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { writeReport } from '../../src/report';
import { registerReport } from '../../src/cli/report';
import { quantizeRun, trainRun, tempDir } from './fixtures';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('a quantize run folder gets the bits, training and capacity plots (SVG + PNG) and report.md', async () => {
  const dir = quantizeRun(path.join(tempDir('write'), 'q'));
  const files = await writeReport(dir);
  assert.deepEqual(files, ['bits.svg', 'bits.png', 'training.svg', 'training.png', 'capacity.svg', 'capacity.png', 'report.md'].map((f) => path.join(dir, f)));
  for (const f of files.filter((x) => x.endsWith('.svg'))) assert.ok(fs.readFileSync(f, 'utf8').startsWith('<svg'), f);
  for (const f of files.filter((x) => x.endsWith('.png'))) assert.ok(fs.readFileSync(f).subarray(0, 8).equals(PNG), f);
  assert.ok(fs.readFileSync(files[0], 'utf8').includes('>blockB.fc<'));
  const md = fs.readFileSync(files[6], 'utf8');
  assert.ok(md.includes('| `blockB.fc` | 2.00 / 2 | 3.63 / 3 ⚠ |'));
  assert.ok(md.includes('![capacity](capacity.svg)'));
});

test('gdnsq report --run prints the files it wrote; an FP run gets no bits plot', async () => {
  const dir = trainRun(path.join(tempDir('write'), 't'));
  const program = new Command('gdnsq').exitOverride();
  registerReport(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => { lines.push(s); };
  try {
    await program.parseAsync(['report', '--run', dir], { from: 'user' });
  } finally {
    console.log = log;
  }
  assert.deepEqual(lines, [path.join(dir, 'training.svg'), path.join(dir, 'training.png'), path.join(dir, 'report.md')]);
  assert.ok(!fs.existsSync(path.join(dir, 'bits.svg')));
  assert.ok(fs.readFileSync(path.join(dir, 'report.md'), 'utf8').includes('| test top-1 | 87.45% |'));
  await assert.rejects(program.parseAsync(['report', '--run', path.join(dir, 'missing')], { from: 'user' }), { message: `run folder not found: ${path.join(dir, 'missing')}` });
});
