// A c10d process group (libtorch's Gloo on CPU, NCCL with a CUDA libtorch) joined through a
// TCPStore that rank 0 hosts. Collectives act in place on lists of tensors, which the addon packs
// into flat buffers (buckets) so a model's many small gradients cost a few messages. Every call
// blocks the caller until all ranks take part, bounded by the group's timeout: a rank that died
// or stalled turns into an error on the others, never a hang.
import { Tensor, scope } from '../engine';
import { native } from '../engine/native';

export type ReduceOp = 'sum' | 'avg' | 'min' | 'max';
export type Backend = 'gloo' | 'nccl';

export interface ProcessGroupOptions {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  /** Bound of the rendezvous and of every collective (default 300 s). */
  timeoutMs?: number;
  /** Default 'gloo'. */
  backend?: Backend;
  /** Largest flat buffer of a collective (default 25 MB, as torch's DDP). */
  bucketBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_BUCKET_BYTES = 25 << 20;

/** The backends this addon was built with. */
export function distBackends(): Record<Backend, boolean> {
  return native.distBackends() as Record<Backend, boolean>;
}

type GroupHandle = { readonly __brand: 'ProcessGroup' };

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  readonly timeoutMs: number;
  readonly bucketBytes: number;
  private handle: GroupHandle | null;

  private constructor(handle: GroupHandle, o: Required<ProcessGroupOptions>) {
    this.handle = handle;
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.backend = o.backend;
    this.timeoutMs = o.timeoutMs;
    this.bucketBytes = o.bucketBytes;
  }

  /** Joins the group: returns once every rank has joined (or throws after the timeout). */
  static init(o: ProcessGroupOptions): ProcessGroup {
    const full: Required<ProcessGroupOptions> = { timeoutMs: DEFAULT_TIMEOUT_MS, backend: 'gloo', bucketBytes: DEFAULT_BUCKET_BYTES, ...o };
    if (!Number.isInteger(full.worldSize) || full.worldSize < 1) throw new Error(`distributed: world size must be a positive integer, got ${o.worldSize}`);
    if (!Number.isInteger(full.rank) || full.rank < 0 || full.rank >= full.worldSize) throw new Error(`distributed: rank must be in 0..${full.worldSize - 1}, got ${o.rank}`);
    if (!Number.isInteger(full.masterPort) || full.masterPort < 1 || full.masterPort > 65535) throw new Error(`distributed: master port must be in 1..65535, got ${o.masterPort}`);
    if (!(full.timeoutMs >= 1)) throw new Error(`distributed: timeout must be positive, got ${o.timeoutMs} ms`);
    const h = native.distInit(full.masterAddr, full.masterPort, full.rank, full.worldSize, Math.round(full.timeoutMs), full.backend) as GroupHandle;
    return new ProcessGroup(h, full);
  }

  get isMain(): boolean { return this.rank === 0; }

  private get h(): GroupHandle {
    if (this.handle === null) throw new Error('distributed: the process group was destroyed');
    return this.handle;
  }

  /** Reduces every tensor in place across ranks ('avg': floating-point tensors only). */
  allreduce(tensors: Tensor[], op: ReduceOp = 'sum'): void {
    if (tensors.length) native.distAllreduce(this.h, tensors.map((t) => t.handle), op, this.bucketBytes);
  }

  /** Every rank's tensors take root's values, in place. */
  broadcast(tensors: Tensor[], root = 0): void {
    if (tensors.length) native.distBroadcast(this.h, tensors.map((t) => t.handle), root, this.bucketBytes);
  }

  barrier(): void { native.distBarrier(this.h); }

  /** Numbers reduced across ranks (in float64: exact for counts and sums of counts below 2^53). */
  allreduceNumbers(values: number[], op: ReduceOp = 'sum'): number[] {
    return scope(() => {
      const t = Tensor.from(Float64Array.from(values));
      this.allreduce([t], op);
      return Array.from(t.data() as Float64Array);
    });
  }

  /** Root's value (JSON-serialisable) on every rank. */
  broadcastJson<T>(value: T, root = 0): T {
    return scope(() => {
      const mine = this.rank === root ? Buffer.from(JSON.stringify(value) ?? 'null', 'utf8') : Buffer.alloc(0);
      const len = Tensor.from(Float64Array.of(mine.length));
      this.broadcast([len], root);
      const n = (len.data() as Float64Array)[0];
      const bytes = this.rank === root ? Tensor.from(new Uint8Array(mine)) : Tensor.zeros([n], 'uint8');
      this.broadcast([bytes], root);
      return JSON.parse(Buffer.from(bytes.data() as Uint8Array).toString('utf8')) as T;
    });
  }

  /** Leaves the group (frees its sockets and threads); later calls throw. */
  destroy(): void {
    if (this.handle === null) return;
    native.distDestroy(this.handle);
    this.handle = null;
  }
}
