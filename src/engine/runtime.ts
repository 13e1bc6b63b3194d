// Process-wide engine settings: threads, seeding, gradient mode, live-handle accounting.
import * as os from 'os';
import { native } from './native';
import { Tensor } from './tensor';

export function getNumThreads(): number { return native.getNumThreads() as number; }
export function setNumThreads(n: number): void { native.setNumThreads(n); }
/** Seeds libtorch's global generator (rand, randn, randint, randperm, dropout, quantizer noise). */
export function manualSeed(seed: number): void { native.manualSeed(seed); }
/** The global generator's full state (uint8 tensor), to continue its exact stream later. */
export function getRngState(): Tensor { return new Tensor(native.getRngState()); }
/** Restores a state from getRngState() (a corrupt one is rejected by libtorch). */
export function setRngState(state: Tensor): void { native.setRngState(state.handle); }
export function isGradEnabled(): boolean { return native.isGradEnabled() as boolean; }
export function cudaAvailable(): boolean { return native.cudaAvailable() as boolean; }
export function torchVersion(): string { return native.version() as string; }
/** Tensors whose native memory is still held (not disposed, not yet finalized). */
export function liveTensors(): number { return native.liveHandles() as number; }
/** Bytes of external memory reported to V8 (all external memory V8 knows of, tensors' included). */
export function externalMemory(): number { return native.externalMemory() as number; }

/** Runs fn with autograd recording off (restores the previous mode even on error). */
export function noGrad<R>(fn: () => R): R {
  const prev = isGradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

// Default: one intra-op thread per available core (libtorch's own default can be 1 here).
setNumThreads(Math.max(1, Number(process.env.GDNSQ_THREADS) || os.availableParallelism()));
