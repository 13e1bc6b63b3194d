// `gdnsq train|quantize … --nproc N`: starts N local worker processes running the same command,
// like torchrun. Each gets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; with
// --nnodes M the machines' launchers (one per node, --node-rank k) form a world of M·N ranks
// through rank 0's TCPStore. Workers run in their own process groups so a Ctrl-C reaches each
// exactly once (forwarded from here), and the first worker to fail stops the rest. Workers die
// with the launcher even when it is killed outright (env.ts watchLauncher).
import { spawn, ChildProcess } from 'child_process';
import * as net from 'net';
import * as os from 'os';

export interface LaunchOptions {
  /** Worker processes on this machine. */
  nproc: number;
  nnodes?: number;
  nodeRank?: number;
  /** Rank 0's host (default 127.0.0.1; needed with several nodes). */
  masterAddr?: string;
  /** Default: a free port when alone on this machine, 29500 (torchrun's) across nodes. */
  masterPort?: number;
  /** The script and arguments each worker runs with node (launcher options removed). */
  script: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** How long the others may take to report their own error after one fails (default 3 s). */
  graceMs?: number;
}

export const LAUNCHER_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** argv without the launcher's own options (`--nproc 2` and `--nproc=2` forms). */
export function workerArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (LAUNCHER_FLAGS.includes(a)) { i++; continue; }
    if (LAUNCHER_FLAGS.some((f) => a.startsWith(`${f}=`))) continue;
    out.push(a);
  }
  return out;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs the workers to completion; resolves to the exit code the launcher should return. */
export async function launch(o: LaunchOptions): Promise<number> {
  const nnodes = o.nnodes ?? 1, nodeRank = o.nodeRank ?? 0;
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new Error(`--nproc must be a positive integer, got ${o.nproc}`);
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new Error(`--nnodes must be a positive integer, got ${nnodes}`);
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) throw new Error(`--node-rank must be in 0..${nnodes - 1}, got ${nodeRank}`);
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? (nnodes === 1 ? await freePort() : 29500);
  const world = nnodes * o.nproc;
  const base = o.env ?? process.env;
  // N workers share the cores: without an explicit thread count each takes its part.
  const threads = base.GDNSQ_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / o.nproc)));
  const children: ChildProcess[] = [];
  const codes: (number | null)[] = new Array(o.nproc).fill(null);
  let failed: { rank: number; code: number } | null = null;
  let interrupted = false;
  let killTimer: NodeJS.Timeout | null = null;
  const forward = (sig: NodeJS.Signals) => () => {
    if (sig === 'SIGINT') interrupted = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  };
  const onInt = forward('SIGINT'), onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const done = Array.from({ length: o.nproc }, (_, local) => new Promise<void>((resolve) => {
      const rank = nodeRank * o.nproc + local;
      const env = { ...base, WORLD_SIZE: String(world), RANK: String(rank), LOCAL_RANK: String(local), MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort), GDNSQ_THREADS: threads, GDNSQ_LAUNCHER_PID: String(process.pid) };
      const child = spawn(process.execPath, [o.script, ...o.args], { env, detached: true, stdio: rank === 0 ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      // Other ranks are quiet unless something goes wrong; their lines are marked.
      for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
        let buf = '';
        stream?.on('data', (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop() ?? '';
          for (const l of lines) out.write(`[rank ${rank}] ${l}\n`);
        });
        stream?.on('end', () => { if (buf) out.write(`[rank ${rank}] ${buf}\n`); });
      }
      child.on('exit', (code, signal) => {
        const c = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 1) : 1);
        codes[local] = c;
        if (c !== 0 && !failed) {
          failed = { rank, code: c };
          if (!interrupted) {
            const graceMs = o.graceMs ?? 3000;
            killTimer = setTimeout(() => {
              for (const k of children) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
            }, graceMs);
          }
        }
        resolve();
      });
    }));
    await Promise.all(done);
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
    if (killTimer) clearTimeout(killTimer);
  }
  const f = failed as { rank: number; code: number } | null;
  if (!f) return 0;
  if (!interrupted) process.stderr.write(`gdnsq: rank ${f.rank} exited with code ${f.code}; the run stopped\n`);
  return f.code;
}
