// Ctrl-C during training: the CLI saves its state atomically, exits with 130, and --resume
// continues from the interrupted step to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { loadTrainingState } from '../../src/train';

const bin = path.join(packageRoot, 'bin', 'gdnsq');
const args = (out: string): string[] => ['train', '--model', 'smallcnn', '--epochs', '2', '--train-limit', '3000', '--val-size', '500',
  '--batch-size', '32', '--schedule', 'constant', '--threads', '1', '--out', out];

test('SIGINT saves a resumable state and exits 130', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-int-'));
  const child = spawn(process.execPath, [bin, ...args(out)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // Interrupt once training has visibly started (first progress line of epoch 1).
      if (/epoch 1\/2 \d+\/\d+/.test(err) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', (c) => resolve(c));
  });
  assert.equal(code, 130, err);
  assert.match(err, /interrupted: state saved to .*resume\.safetensors; continue with --resume/);
  const st = loadTrainingState<{ epoch: number; batchInEpoch: number; step: number }>(path.join(out, 'resume.safetensors'));
  assert.equal(st.trainer.epoch, 0);
  assert.ok(st.trainer.batchInEpoch > 0 && st.trainer.batchInEpoch < 94, `stopped at batch ${st.trainer.batchInEpoch}`);
  assert.equal(st.trainer.step, st.trainer.batchInEpoch);
  assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('.tmp')), []);

  const r = spawnSync(process.execPath, [bin, ...args(out), '--resume', '--no-progress'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { epochs_run: number };
  assert.equal(summary.epochs_run, 2);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
  assert.deepEqual(lines.map((l) => l.step), [94, 188]);
});
