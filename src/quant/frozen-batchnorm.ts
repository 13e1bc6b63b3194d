// BatchNorm "freeze" (GDNSQ.md §4.5 option): the layer always normalises with its running
// statistics, as in eval mode, and never updates them, while its affine weight and bias stay
// learnable. It takes over an existing BatchNorm2d's tensors under the same names.
import { Tensor } from '../engine';
import { BatchNorm2d } from '../nn';

export class FrozenBatchNorm2d extends BatchNorm2d {
  /** Takes over bn's parameters and buffers (bn must not be used or disposed afterwards). */
  constructor(bn: BatchNorm2d) {
    if (!bn.trackRunningStats) throw new Error('FrozenBatchNorm2d: the BatchNorm2d has no running statistics to freeze');
    super(bn.numFeatures, { eps: bn.eps, momentum: bn.momentum, affine: bn.affine, trackRunningStats: true });
    this.registerParameter('weight', bn.weight, bn.weight?.requiresGrad ?? true);
    this.registerParameter('bias', bn.bias, bn.bias?.requiresGrad ?? true);
    this.registerBuffer('running_mean', bn.runningMean);
    this.registerBuffer('running_var', bn.runningVar);
    this.registerBuffer('num_batches_tracked', bn.numBatchesTracked);
  }

  override forward(x: Tensor): Tensor {
    const mode = this.training;
    this.training = false;
    try {
      return super.forward(x);
    } finally {
      this.training = mode;
    }
  }
}
