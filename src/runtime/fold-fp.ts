// The full-precision layers of a packed model, made cheaper without changing what they compute
// beyond float rounding: a Conv2d followed by its BatchNorm (the stem, the 1×1 shortcuts) becomes
// one convolution with the BN's affine folded into its weight and bias, and the stem's ReLU runs
// in place. At low bit-widths these layers are what is left of the fp32 work.
import { Tensor, F, keep, noGrad, scope } from '../engine';
import { Module, Conv2d, BatchNorm2d, ReLU } from '../nn';
import { ResNet } from '../models';
import { foldBatchNorm, IdentityAfterFold, batchNormNameFor } from './packed-conv';

/** A Conv2d with the following BatchNorm folded in: w·k per output channel, bias·k + m. */
export class FoldedConv2d extends Module {
  declare readonly weight: Tensor;
  declare readonly bias: Tensor;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(conv: Conv2d, bn: BatchNorm2d) {
    super();
    this.stride = conv.stride;
    this.padding = conv.padding;
    this.dilation = conv.dilation;
    this.groups = conv.groups;
    noGrad(() => scope(() => {
      const { k, m } = foldBatchNorm(bn);
      const o = conv.outChannels;
      this.registerBuffer('weight', keep(conv.weight.detach().mul(k.reshape([o, 1, 1, 1])).contiguous()));
      this.registerBuffer('bias', keep((conv.bias ? conv.bias.detach().mul(k) : Tensor.zeros([o])).add(m).contiguous()));
    }));
  }

  override forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** ReLU in place: only where the input is not used again. */
export class ReLUInPlace extends Module {
  override forward(x: Tensor): Tensor { return x.relu_(); }
}

/** Folds every FP Conv2d + BatchNorm2d pair of model in place; returns how many. */
export function foldFullPrecision(model: Module): number {
  let folded = 0;
  for (const [, parent] of model.namedModules()) {
    const children = new Map(parent.namedChildren());
    for (const [key, conv] of children) {
      const bnKey = batchNormNameFor(key);
      const bn = bnKey ? children.get(bnKey) : undefined;
      if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d) || !bnKey) continue;
      parent.registerModule(key, new FoldedConv2d(conv, bn));
      parent.registerModule(bnKey, new IdentityAfterFold());
      conv.dispose();
      bn.dispose();
      folded++;
    }
  }
  // The ResNet stem's ReLU (the top-level `relu`) reads the stem's output only.
  if (model instanceof ResNet && (model as unknown as { relu?: Module }).relu instanceof ReLU) model.registerModule('relu', new ReLUInPlace());
  return folded;
}
