// Two real ranks on loopback (one libtorch thread each): collectives give exact results across
// dtypes, bucket sizes and non-contiguous tensors; a missing or dead rank is a one-line error
// within the timeout, not a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { ProcessGroup, distBackends } from '../../src/distributed';
import { freePort, runNode, lastJson } from './spawn';

const worker = path.join(__dirname, 'pg-worker.js');

async function twoRanks(bucketBytes: number, mode = 'collectives', timeoutMs = 20_000): Promise<Record<string, unknown>[]> {
  const port = await freePort();
  const runs = await Promise.all([0, 1].map((r) => runNode([worker, String(port), String(r), '2', String(bucketBytes), String(timeoutMs), mode])));
  return runs.map((e, r) => (mode === 'die' && r === 1 ? { code: e.code } : lastJson<Record<string, unknown>>(e)));
}

test('this addon has Gloo', () => {
  assert.equal(distBackends().gloo, true);
});

for (const bucket of [16, 25 << 20]) {
  test(`allreduce, broadcast, barrier across 2 ranks are exact (buckets of ${bucket} bytes)`, async () => {
    const [r0, r1] = await twoRanks(bucket);
    assert.deepEqual(r0, r1);
    const ramp = Array.from({ length: 40 }, (_, i) => i * 1 + 0.25 + i * 2 + 0.25);
    assert.deepEqual(r0.sum, [[3, 6, 1.5], [3, 9, 6, 12], [3, -3, 14], ramp]);
    assert.deepEqual(r0.avg, [1.5, 4.5]);
    assert.deepEqual(r0.min, [1, -2]);
    assert.deepEqual(r0.max, [2, -1]);
    assert.deepEqual(r0.bcast, [[20, 40], [2]]);
    assert.deepEqual(r0.json, { t: 0.1 + 0.2, s: 'ok', n: [1, 2] });
    assert.deepEqual(r0.numbers, [3, 2 / 3]);
    assert.equal(r0.avgInt, "distAllreduce: argument 1 must hold floating-point tensors for 'avg'");
    assert.equal(r0.destroyed, 'distributed: the process group was destroyed');
  });
}

test('a dead rank makes the survivor\'s collective fail with one clear line', async () => {
  const [r0, r1] = await twoRanks(1 << 20, 'die', 5_000);
  assert.equal(r1.code, 3);
  assert.match(String(r0.error), /^distAllreduce: allreduce failed on rank 0 of 2 after [\d.]+ s \(timeout 5 s\): .+ \(did another rank stop or die\?\)$/);
  assert.ok((r0.seconds as number) < 5, `took ${r0.seconds} s`);
});

test('a rank alone gives up after the timeout and says who is missing', async () => {
  const port = await freePort();
  const e = await runNode(['-e', `
    const { ProcessGroup } = require(${JSON.stringify(path.resolve(__dirname, '../../src/distributed'))});
    try { ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: ${port}, rank: 0, worldSize: 2, timeoutMs: 1000 }); }
    catch (e) { console.log(JSON.stringify({ error: e.message })); }`]);
  const r = lastJson<{ error: string }>(e);
  assert.equal(r.error, `distInit: rank 0: only 1 of 2 ranks joined at 127.0.0.1:${port} within 1.0 s (is every rank started, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE?)`);
  assert.ok(e.seconds < 10, `took ${e.seconds} s`);
});

test('bad arguments are one-line errors', () => {
  const base = { masterAddr: '127.0.0.1', masterPort: 1, rank: 0, worldSize: 1, timeoutMs: 1000 };
  assert.throws(() => ProcessGroup.init({ ...base, rank: 2, worldSize: 2 }), /^Error: distributed: rank must be in 0\.\.1, got 2$/);
  assert.throws(() => ProcessGroup.init({ ...base, masterPort: 70000 }), /^Error: distributed: master port must be in 1\.\.65535, got 70000$/);
  assert.throws(() => ProcessGroup.init({ ...base, backend: 'mpi' as 'gloo' }), /^Error: distInit: argument 5 is an unknown backend 'mpi' \(gloo, nccl\)$/);
  if (!distBackends().nccl) {
    assert.throws(() => ProcessGroup.init({ ...base, backend: 'nccl' }),
      /^Error: distInit: the NCCL backend needs a CUDA build of libtorch with NCCL \(this addon was built without it\)$/);
  }
});
