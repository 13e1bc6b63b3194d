// Batch normalisation over [N, C, H, W], after torch.nn.BatchNorm2d: the same parameters,
// buffers (running_mean, running_var, num_batches_tracked) and train/eval behaviour.
import { Tensor, F, scope, noGrad } from '../engine';
import { Module } from './module';

export interface BatchNorm2dOptions {
  eps?: number;
  /** Weight of the newest batch in the running averages; null = cumulative average (1/batches). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

// Python's float repr for small numbers (1e-05), so toString() reads like PyTorch's.
function pyFloat(v: number): string {
  if (v === 0 || Math.abs(v) >= 1e-4) return String(v);
  const [mantissa, exp] = v.toExponential().split('e');
  return `${mantissa}e${exp[0]}${exp.slice(1).padStart(2, '0')}`;
}

export class BatchNorm2d extends Module {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, o: BatchNorm2dOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) throw new Error(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    this.numFeatures = numFeatures;
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    this.affine = o.affine ?? true;
    this.trackRunningStats = o.trackRunningStats ?? true;
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`BatchNorm2d: momentum must be in [0, 1] or null, got ${this.momentum}`);
    if (!(this.eps > 0)) throw new Error(`BatchNorm2d: eps must be positive, got ${this.eps}`);
    this.registerParameter('weight', this.affine ? Tensor.ones([numFeatures]) : null);
    this.registerParameter('bias', this.affine ? Tensor.zeros([numFeatures]) : null);
    // PyTorch's state-dict names (snake_case), so torchvision checkpoints load as they are.
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? Tensor.zeros([numFeatures]) : null);
    this.registerBuffer('running_var', track ? Tensor.ones([numFeatures]) : null);
    this.registerBuffer('num_batches_tracked', track ? Tensor.zeros([], 'int64') : null);
  }

  // camelCase views of the snake_case buffers.
  get runningMean(): Tensor | null { return this.buf('running_mean'); }
  get runningVar(): Tensor | null { return this.buf('running_var'); }
  get numBatchesTracked(): Tensor | null { return this.buf('num_batches_tracked'); }
  private buf(name: string): Tensor | null { return (this as unknown as Record<string, Tensor | null>)[name]; }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.size(1) !== this.numFeatures) {
      throw new Error(`BatchNorm2d: expected input [N, ${this.numFeatures}, H, W], got [${x.shape.join(', ')}]`);
    }
    const batchStats = this.training || (!this.runningMean && !this.runningVar);
    if (batchStats && x.size(0) * x.size(2) * x.size(3) === 1) {
      throw new Error(`BatchNorm2d: expected more than 1 value per channel when training, got input [${x.shape.join(', ')}]`);
    }
    const nbt = this.numBatchesTracked;
    let factor = 0;
    if (this.training && nbt) {
      noGrad(() => scope(() => { nbt.copy_(nbt.add(1)); }));
      factor = this.momentum ?? 1 / nbt.item();
    }
    const useRunning = !this.training || this.trackRunningStats;
    return F.batchNorm(x, {
      weight: this.weight, bias: this.bias,
      runningMean: useRunning ? this.runningMean : null, runningVar: useRunning ? this.runningVar : null,
      training: batchStats, momentum: factor, eps: this.eps,
    });
  }

  override extraRepr(): string {
    const m = this.momentum === null ? 'None' : String(this.momentum);
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${m}, affine=${this.affine ? 'True' : 'False'}, track_running_stats=${this.trackRunningStats ? 'True' : 'False'}`;
  }
}
