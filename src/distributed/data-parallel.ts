// What data-parallel training adds to a single-rank loop: the same start on every rank, gradients
// averaged after each backward pass, BN statistics averaged before each evaluation, numbers
// (losses, accuracies, flags) reduced, and rank 0's decisions broadcast. The loop itself
// (train/Trainer) stays the single-rank loop; it calls these where ranks must agree.
import { Tensor, scope } from '../engine';
import { ProcessGroup } from './process-group';

export interface GradientBatch { size: number; globalSize?: number }

export class DataParallel {
  /** Seconds spent in gradient all-reduces so far (for `gdnsq bench dist`). */
  allreduceSeconds = 0;

  constructor(readonly group: ProcessGroup) {}

  get rank(): number { return this.group.rank; }
  get worldSize(): number { return this.group.worldSize; }
  /** Rank 0 alone writes checkpoints, logs, reports and progress. */
  get isMain(): boolean { return this.group.rank === 0; }

  /** Every rank takes rank 0's values (parameters and buffers at the start, as torch's DDP). */
  syncTensors(tensors: Tensor[]): void { this.group.broadcast(tensors, 0); }

  /**
   * Replaces each gradient by the mean gradient of the global batch. A shard's gradient is the
   * mean over its rows; weighting it by rows·N/S (S rows in the global batch) makes the average
   * the exact global mean when the shards differ in size (weight 1 when they do not). `stop`
   * rides along in the same buffer: the result says whether any rank asked to stop, so all ranks
   * stop after the same step.
   */
  averageGradients(params: Tensor[], batch: GradientBatch, stop = false): boolean {
    const t0 = process.hrtime.bigint();
    const agreed = scope(() => {
      const grads: Tensor[] = [];
      for (const p of params) {
        const g = p.grad;
        if (g) grads.push(g);
      }
      const weight = batch.globalSize ? (batch.size * this.worldSize) / batch.globalSize : 1;
      if (weight !== 1) for (const g of grads) g.mul_(weight);
      const flag = Tensor.from([stop ? 1 : 0]);
      this.group.allreduce([...grads, flag], 'avg');
      return flag.item() > 0;
    });
    this.allreduceSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    return agreed;
  }

  /** Averages BatchNorm running statistics (state-dict keys *.running_mean, *.running_var). */
  averageBatchNorm(state: Record<string, Tensor>): void {
    const stats = Object.entries(state).filter(([k]) => k.endsWith('.running_mean') || k.endsWith('.running_var') || k === 'running_mean' || k === 'running_var');
    this.group.allreduce(stats.map(([, t]) => t), 'avg');
  }

  sum(values: number[]): number[] { return this.group.allreduceNumbers(values, 'sum'); }
  min(values: number[]): number[] { return this.group.allreduceNumbers(values, 'min'); }
  max(values: number[]): number[] { return this.group.allreduceNumbers(values, 'max'); }

  /** Σ value·weight / Σ weight over ranks, for each value (weight: the rank's rows). */
  weightedMean(values: number[], weight: number): number[] {
    const r = this.sum([...values.map((v) => v * weight), weight]);
    const w = r[values.length];
    return values.map((_, i) => r[i] / w);
  }

  /** Input ranges over all ranks' calibration batches (for calibrate()'s agreeRanges). */
  agreeRanges(ranges: { min: number; max: number }[]): { min: number; max: number }[] {
    const mins = this.min(ranges.map((r) => r.min));
    const maxs = this.max(ranges.map((r) => r.max));
    return ranges.map((_, i) => ({ min: mins[i], max: maxs[i] }));
  }

  broadcastJson<T>(value: T): T { return this.group.broadcastJson(value, 0); }

  barrier(): void { this.group.barrier(); }
}
