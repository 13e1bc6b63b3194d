// The rendezvous settings of a worker, from the variables torchrun (and `gdnsq … --nproc N`)
// set: WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT (LOCAL_RANK is informational here).
import { DEFAULT_TIMEOUT_MS, ProcessGroup, Backend } from './process-group';
import { DataParallel } from './data-parallel';
import { native } from '../engine/native';

export interface DistEnv { worldSize: number; rank: number; localRank: number; masterAddr: string; masterPort: number }

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** The worker's settings, or null when it is not part of a multi-rank run (no WORLD_SIZE, or 1). */
export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  const worldSize = intVar(env, 'WORLD_SIZE', 1);
  if (worldSize === undefined || worldSize === 1) return null;
  const rank = intVar(env, 'RANK', 0);
  if (rank === undefined) throw new Error(`WORLD_SIZE is ${worldSize} but RANK is not set`);
  if (rank >= worldSize) throw new Error(`RANK must be below WORLD_SIZE (${worldSize}), got ${rank}`);
  const masterPort = intVar(env, 'MASTER_PORT', 1) ?? 29500;
  if (masterPort > 65535) throw new Error(`MASTER_PORT must be a port in 1..65535, got ${masterPort}`);
  return { worldSize, rank, localRank: intVar(env, 'LOCAL_RANK', 0) ?? rank, masterAddr: env.MASTER_ADDR || '127.0.0.1', masterPort };
}

export interface JoinOptions { timeoutMs?: number; backend?: Backend; env?: NodeJS.ProcessEnv }

/**
 * A worker started by `gdnsq … --nproc` (GDNSQ_LAUNCHER_PID set) dies with its launcher, also
 * when the launcher is killed with SIGKILL and cannot stop its workers itself.
 */
export function watchLauncher(env: NodeJS.ProcessEnv = process.env): void {
  const pid = intVar(env, 'GDNSQ_LAUNCHER_PID', 1);
  if (pid === undefined) return;
  if (!native.distWatchParent(pid)) throw new Error(`the launcher (pid ${pid}) has exited: this worker stops`);
}

/** Joins the run described by the environment; null for a single-rank run. */
export function joinFromEnv(o: JoinOptions = {}): DataParallel | null {
  const e = distEnv(o.env);
  if (!e) return null;
  watchLauncher(o.env ?? process.env);
  const group = ProcessGroup.init({ ...e, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, backend: o.backend ?? 'gloo' });
  return new DataParallel(group);
}
