import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { writeReport } from '../../src/report';
import { registerReport } from '../../src/cli/report';
import { quantizeRun, trainRun, tempDir } from './fixtures';

test('a quantize run folder gets bits.svg, training.svg and report.md', async () => {
  const dir = quantizeRun(path.join(tempDir('write'), 'q'));
  const files = await writeReport(dir);
  assert.deepEqual(files, ['bits.svg', 'training.svg', 'report.md'].map((f) => path.join(dir, f)));
  for (const f of files.slice(0, 2)) assert.ok(fs.readFileSync(f, 'utf8').startsWith('<svg'), f);
  assert.ok(fs.readFileSync(files[0], 'utf8').includes('>blockB.fc<'));
  assert.ok(fs.readFileSync(files[2], 'utf8').includes('| `blockB.fc` | 2.00 / 2 | 3.63 / 3 ⚠ |'));
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
  assert.deepEqual(lines, [path.join(dir, 'training.svg'), path.join(dir, 'report.md')]);
  assert.ok(!fs.existsSync(path.join(dir, 'bits.svg')));
  assert.ok(fs.readFileSync(path.join(dir, 'report.md'), 'utf8').includes('| test top-1 | 87.45% |'));
  await assert.rejects(program.parseAsync(['report', '--run', path.join(dir, 'missing')], { from: 'user' }), { message: `run folder not found: ${path.join(dir, 'missing')}` });
});
