// Faults of a distributed run, through the real CLI: a killed rank and a stalled rank end the run
// with one clear line within the collective timeout; a worker that cannot start stops the
// launcher's other workers; a crash (kill -9 of every process) mid-epoch loses at most
// --save-every steps, and --resume then ends bit-identical to the uninterrupted run, with
// 1 rank and with 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { packageRoot } from '../../src/engine/native';
import { loadModelFile, loadTrainingState } from '../../src/train';
import { freePort, runNode } from './spawn';
import { writeIdx } from './data';

const bin = path.join(packageRoot, 'bin', 'gdnsq');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-dist-fault-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const data = writeIdx(dir, 1200);
const trainArgs = (out: string, batch: number, extra: string[] = []): string[] => [bin, 'train', '--model', 'smallcnn', '--dataset', 'idx', '--data-dir', data,
  '--epochs', '2', '--batch-size', String(batch), '--optimizer', 'adam', '--lr', '0.003', '--schedule', 'constant', '--no-progress', '--out', out, ...extra];

interface Worker { child: ChildProcess; exit: Promise<{ code: number | null; stderr: string; at: number }> }
function worker(args: string[], env: Record<string, string>): Worker {
  const child = spawn(process.execPath, args, { env: { ...process.env, GDNSQ_THREADS: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exit = new Promise<{ code: number | null; stderr: string; at: number }>((resolve) => child.on('close', (code) => resolve({ code, stderr, at: Date.now() })));
  return { child, exit };
}
async function twoWorkers(args: string[], port: number): Promise<Worker[]> {
  return [0, 1].map((r) => worker(args, { WORLD_SIZE: '2', RANK: String(r), MASTER_PORT: String(port) }));
}
async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const lastLine = (s: string): string => s.trim().split('\n').pop() ?? '';

test('a killed rank ends the run at once with a clear line', async () => {
  const out = path.join(dir, 'killed');
  const [r0, r1] = await twoWorkers(trainArgs(out, 4, ['--dist-timeout', '20', '--save-every', '10']), await freePort());
  await until(() => fs.existsSync(path.join(out, 'resume.safetensors')));
  const t0 = Date.now();
  r1.child.kill('SIGKILL');
  const e = await r0.exit;
  await r1.exit;
  assert.equal(e.code, 1);
  assert.match(lastLine(e.stderr), /^gdnsq: dist\w+: \w+ failed on rank 0 of 2 after [\d.]+ s \(timeout 20 s\): .+ \(did another rank stop or die\?\)$/);
  assert.ok(e.at - t0 < 10_000, `rank 0 took ${e.at - t0} ms to stop`);
});

test('a stalled rank ends the run after the timeout with a clear line', async () => {
  const out = path.join(dir, 'stalled');
  const [r0, r1] = await twoWorkers(trainArgs(out, 4, ['--dist-timeout', '3', '--save-every', '10']), await freePort());
  await until(() => fs.existsSync(path.join(out, 'resume.safetensors')));
  const t0 = Date.now();
  r1.child.kill('SIGSTOP');
  const e = await r0.exit;
  r1.child.kill('SIGKILL');
  await r1.exit;
  assert.equal(e.code, 1);
  assert.match(lastLine(e.stderr), /^gdnsq: dist\w+: \w+ failed on rank 0 of 2 after [\d.]+ s \(timeout 3 s\): .+ \(did another rank stop or die\?\)$/);
  assert.ok(e.at - t0 >= 2_000 && e.at - t0 < 15_000, `rank 0 stopped after ${e.at - t0} ms`);
});

test('the launcher stops every worker when one cannot start', async () => {
  const busy = net.createServer();
  const port = await new Promise<number>((resolve) => busy.listen(0, () => resolve((busy.address() as net.AddressInfo).port)));
  try {
    const e = await runNode(trainArgs(path.join(dir, 'busy'), 4, ['--nproc', '2', '--master-port', String(port), '--dist-timeout', '5']));
    assert.equal(e.code, 1);
    assert.match(e.stderr, /^gdnsq: rank 0 exited with code 1; the run stopped$/m);
    assert.match(e.stderr, /^gdnsq: distInit: rank 0 of 2 could not reach the TCPStore at 127\.0\.0\.1:\d+ within 5\.0 s: /m);
    assert.ok(e.seconds < 30, `took ${e.seconds} s`);
  } finally {
    busy.close();
  }
});

for (const nranks of [1, 2]) {
  test(`kill -9 mid-epoch, then --resume: bit-identical to the uninterrupted run (${nranks} rank${nranks > 1 ? 's' : ''})`, async () => {
    const straight = path.join(dir, `straight${nranks}`), crashed = path.join(dir, `crashed${nranks}`);
    const batch = String(8 / nranks);
    const launch = nranks > 1 ? ['--nproc', '2'] : [];
    const a = await runNode([...trainArgs(straight, 8 / nranks, launch)]);
    assert.equal(a.code, 0, a.stderr);
    const port = await freePort();
    const args = trainArgs(crashed, 8 / nranks, ['--save-every', '5']);
    const ws = nranks > 1 ? await twoWorkers(args, port) : [worker(args, {})];
    await until(() => fs.existsSync(path.join(crashed, 'resume.safetensors')));
    for (const w of ws) w.child.kill('SIGKILL');
    await Promise.all(ws.map((w) => w.exit));
    const saved = loadTrainingState<{ epoch: number; batchInEpoch: number; step: number }>(path.join(crashed, 'resume.safetensors')).trainer;
    assert.equal(saved.epoch, 0);
    assert.ok(saved.batchInEpoch > 0 && saved.step % 5 === 0, `saved at epoch ${saved.epoch} batch ${saved.batchInEpoch}`);
    const b = await runNode([bin, 'train', '--model', 'smallcnn', '--dataset', 'idx', '--data-dir', data, '--epochs', '2', '--batch-size', batch, '--optimizer', 'adam',
      '--lr', '0.003', '--schedule', 'constant', '--no-progress', '--out', crashed, '--resume', ...launch]);
    assert.equal(b.code, 0, b.stderr);
    const x = loadModelFile(path.join(straight, 'last.safetensors')).state, y = loadModelFile(path.join(crashed, 'last.safetensors')).state;
    for (const k of Object.keys(x)) assert.ok(x[k].equal(y[k]), `${k} differs after resume`);
    const metrics = (d: string): unknown[] => fs.readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => { const r = JSON.parse(l) as Record<string, unknown>; return [r.epoch, r.step, r.train_loss, r.train_top1, r.val_top1]; });
    assert.deepEqual(metrics(crashed), metrics(straight));
  });
}

/** Pids of the processes whose parent is `ppid` (from /proc). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(e));
    } catch { /* gone meanwhile */ }
  }
  return out;
}
const alive = (pid: number): boolean => {
  try {
    // A zombie still answers kill(0); its state in /proc says Z.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
};

test('workers exit when their launcher is killed with SIGKILL', { skip: process.platform !== 'linux' && 'needs /proc and prctl' }, async () => {
  const out = path.join(dir, 'orphans');
  const launcher = spawn(process.execPath, [...trainArgs(out, 4, ['--save-every', '5', '--epochs', '50']), '--nproc', '2'], {
    env: { ...process.env, GDNSQ_THREADS: '1' }, stdio: ['ignore', 'ignore', 'ignore'],
  });
  try {
    await until(() => fs.existsSync(path.join(out, 'resume.safetensors')));
    const workers = childrenOf(launcher.pid!);
    assert.equal(workers.length, 2, 'two workers are running');
    launcher.kill('SIGKILL');
    await until(() => workers.every((p) => !alive(p)), 10_000);
  } finally {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
  }
});
