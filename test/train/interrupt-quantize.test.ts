// A GDNSQ run (whose noise draws from libtorch's generator) interrupted mid-epoch with Ctrl-C
// and resumed ends bit-identical to the same run left alone: model, optimizer, objective
// (t, c), the descent controller, LR schedule, data position and the generator's exact state
// are all restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { loadModelFile } from '../../src/train';

const bin = path.join(packageRoot, 'bin', 'gdnsq');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-qint-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const run = (a: string[]): void => {
  const r = spawnSync(process.execPath, [bin, ...a], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
};

test('quantize: SIGINT mid-epoch then --resume equals the uninterrupted run', async () => {
  run(['train', '--model', 'smallcnn', '--epochs', '1', '--train-limit', '2000', '--val-size', '500', '--threads', '1', '--no-progress', '--out', path.join(dir, 'fp')]);
  const q = (out: string): string[] => ['quantize', '--teacher', path.join(dir, 'fp', 'best.safetensors'), '--epochs', '2', '--train-limit', '2000',
    '--val-size', '500', '--batch-size', '16', '--warmup-steps', '10', '--descent', '0.75', '--start-bits', '8', '--threads', '1', '--out', out];
  run([...q(path.join(dir, 'straight')), '--no-progress']);

  const out = path.join(dir, 'split');
  const child = spawn(process.execPath, [bin, ...q(out)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/W2A2 epoch 1\/2 \d+\/125/.test(err) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', resolve);
  });
  assert.equal(code, 130, err);
  run(['quantize', '--resume', out, '--no-progress']);

  const a = loadModelFile(path.join(dir, 'straight', 'last.safetensors')).state;
  const b = loadModelFile(path.join(out, 'last.safetensors')).state;
  assert.deepEqual(Object.keys(b), Object.keys(a));
  for (const k of Object.keys(a)) assert.ok(a[k].equal(b[k]), `${k} differs after resume`);
});
