// One rank of test/distributed/process-group.test.ts: runs the collectives and prints what it got.
import { Tensor, scope } from '../../src/engine';
import { ProcessGroup } from '../../src/distributed';

const [port, rank, size, bucketBytes, timeoutMs] = process.argv.slice(2, 7).map(Number);
const mode = process.argv[7] ?? 'collectives';
const g = ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: port, rank, worldSize: size, timeoutMs, bucketBytes });
if (mode === 'die') {
  // Rank 1 leaves at once; rank 0's next collective must fail with a clear line.
  if (rank === 1) process.exit(3);
  const t0 = Date.now();
  try {
    scope(() => g.allreduce([Tensor.from([1, 2])]));
    process.stdout.write('{"error":null}\n');
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message, seconds: (Date.now() - t0) / 1000 })}\n`);
  }
  process.exit(0);
}
const out: Record<string, unknown> = {};
scope(() => {
  const r = rank + 1;
  // A list across dtypes, one of them non-contiguous: several buckets, copies back into views.
  const a = Tensor.from([r, 2 * r, 0.5 * r]);
  const b = Tensor.from(Float64Array.from([1, 2, 3, 4].map((v) => v * r)), [2, 2]).transpose(0, 1);
  const c = Tensor.from([r, -r, 7], [3], 'int64');
  const d = Tensor.from(Float32Array.from({ length: 40 }, (_, i) => i * r + 0.25));
  g.allreduce([a, b, c, d], 'sum');
  out.sum = [a.toArray(), b.contiguous().toArray(), c.toArray(), d.toArray()];
  const e = Tensor.from([r, 3 * r]);
  g.allreduce([e], 'avg');
  out.avg = e.toArray();
  const f = Tensor.from([r, -r]);
  const f2 = Tensor.from([r, -r]);
  g.allreduce([f], 'min');
  g.allreduce([f2], 'max');
  out.min = f.toArray();
  out.max = f2.toArray();
  const p = Tensor.from([10 * r, 20 * r]);
  const q = Tensor.from([r], [1], 'int64');
  g.broadcast([p, q], size - 1);
  out.bcast = [p.toArray(), q.toArray()];
  out.json = g.broadcastJson(rank === 0 ? { t: 0.1 + 0.2, s: 'ok', n: [1, 2] } : null);
  out.numbers = g.allreduceNumbers([r, 1 / 3], 'sum');
  try {
    g.allreduce([c], 'avg');
  } catch (err) {
    out.avgInt = (err as Error).message;
  }
  g.barrier();
});
g.destroy();
try {
  g.barrier();
} catch (err) {
  out.destroyed = (err as Error).message;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
