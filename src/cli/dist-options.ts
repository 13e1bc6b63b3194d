// The data-parallel options of `gdnsq train` and `gdnsq quantize`: the torchrun-like launcher
// (--nproc, --nnodes, --node-rank, --master-addr, --master-port), the collective timeout, the
// device, and joining the run a worker was started for (the WORLD_SIZE/RANK/MASTER_* variables).
import { Command } from 'commander';
import { cudaAvailable } from '../engine';
import { DataParallel, joinFromEnv, launch, workerArgs, distEnv, distBackends } from '../distributed';
import { int, num, oneOf } from './options';

export interface DistCliOptions {
  nproc?: number; nnodes?: number; nodeRank?: number; masterAddr?: string; masterPort?: number;
  distTimeout: number; device: 'cpu' | 'cuda'; saveEvery?: number;
}

export function addDistOptions(cmd: Command): Command {
  return cmd
    .option('--nproc <n>', 'worker processes on this machine (data-parallel; --batch-size is per worker)', int('--nproc', 1))
    .option('--nnodes <n>', 'machines taking part (run the same command on each, with its --node-rank)', int('--nnodes', 1))
    .option('--node-rank <k>', 'this machine\'s index, 0..nnodes-1', int('--node-rank', 0))
    .option('--master-addr <host>', 'rank 0\'s address (default 127.0.0.1; env MASTER_ADDR)')
    .option('--master-port <port>', 'rank 0\'s TCPStore port (default: a free one on one machine, 29500 across machines)', int('--master-port', 1))
    .option('--dist-timeout <s>', 'seconds a rank waits for the others in any collective before failing', num('--dist-timeout', 0.001), 300)
    .option('--device <d>', 'cpu (Gloo) or cuda (NCCL; needs a CUDA build of libtorch)', oneOf('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option('--save-every <n>', 'also save the resume state every n steps (bounds what a crash loses)', int('--save-every', 1));
}

/**
 * The launcher's part: with --nproc/--nnodes, runs the workers and returns the exit code; null
 * in a worker (or a plain single-process run), which then goes on with joinRun().
 */
export async function launchIfAsked(o: DistCliOptions, argv = process.argv): Promise<number | null> {
  checkDevice(o.device);
  if ((o.nproc ?? 1) === 1 && (o.nnodes ?? 1) === 1) return null;
  return launch({
    nproc: o.nproc ?? 1, nnodes: o.nnodes, nodeRank: o.nodeRank, masterAddr: o.masterAddr, masterPort: o.masterPort,
    script: argv[1], args: workerArgs(argv.slice(2)),
  });
}

/** This worker's place in a multi-rank run (from the environment), or null when alone. */
export function joinRun(o: DistCliOptions): DataParallel | null {
  checkDevice(o.device);
  const env = distEnv();
  if (!env) return null;
  const overrides = { ...process.env, ...(o.masterAddr ? { MASTER_ADDR: o.masterAddr } : {}), ...(o.masterPort ? { MASTER_PORT: String(o.masterPort) } : {}) };
  return joinFromEnv({ timeoutMs: o.distTimeout * 1000, backend: o.device === 'cuda' ? 'nccl' : 'gloo', env: overrides });
}

function checkDevice(device: 'cpu' | 'cuda'): void {
  if (device !== 'cuda') return;
  if (!cudaAvailable() || !distBackends().nccl) {
    throw new Error('--device cuda needs a CUDA build of libtorch with NCCL and a visible GPU (this addon was built against a CPU-only libtorch)');
  }
  throw new Error('--device cuda: gdnsq train/quantize keep models and batches on the CPU for now; run with --device cpu');
}
