// Epilogue fusion where the model's data flow is known: after the BatchNorms are folded, a
// ResNet BasicBlock whose two convolutions are packed runs as conv1(+ReLU, +conv2's quantizer:
// it writes conv2's input codes) then conv2(+residual, +ReLU), and a SmallCNN stage's ReLU
// moves into its conv. Each saves full
// passes over the activations (the separate add and ReLU), which at low bit-widths cost more
// than the convolutions themselves.
import { Tensor, scope } from '../engine';
import { Module, ReLU, Identity } from '../nn';
import { BasicBlock, SmallCNN } from '../models';
import { PackedConv2d, IdentityAfterFold } from './packed-conv';

const folded = (m: Module | undefined): boolean => m instanceof IdentityAfterFold;

/** A BasicBlock with both convolutions packed and their BatchNorms folded. */
export class FusedBasicBlock extends Module {
  declare readonly conv1: PackedConv2d;
  declare readonly conv2: PackedConv2d;
  declare readonly downsample?: Module;

  constructor(block: BasicBlock) {
    super();
    const conv1 = block.conv1 as PackedConv2d, conv2 = block.conv2 as PackedConv2d;
    conv1.relu = true;
    conv2.relu = true;
    this.registerModule('conv1', conv1);
    this.registerModule('conv2', conv2);
    if (block.downsample) this.registerModule('downsample', block.downsample);
  }

  override forward(x: Tensor): Tensor {
    return scope(() => {
      const identity = this.downsample ? this.downsample.call(x) : x;
      // conv1's epilogue writes conv2's input codes directly: its fp32 output never exists.
      const h = this.conv1.convolve(this.conv1.codesOf(x), x.shape, null, this.conv2);
      return this.conv2.convolve(h, this.conv1.outputShape(x.shape), identity);
    });
  }
}

/** Rewrites model in place; returns how many blocks or stages were fused. */
export function fuseBlocks(model: Module): number {
  let fused = 0;
  for (const [, parent] of model.namedModules()) {
    for (const [key, child] of parent.namedChildren()) {
      if (child instanceof BasicBlock && child.conv1 instanceof PackedConv2d && child.conv2 instanceof PackedConv2d && folded(child.bn1) && folded(child.bn2)) {
        parent.registerModule(key, new FusedBasicBlock(child));
        fused++;
      }
    }
  }
  if (model instanceof SmallCNN) {
    const children = new Map(model.namedChildren());
    for (let k = 1; children.has(`conv${k}`); k++) {
      const conv = children.get(`conv${k}`), relu = children.get(`relu${k}`);
      if (conv instanceof PackedConv2d && folded(children.get(`bn${k}`)) && relu instanceof ReLU) {
        conv.relu = true;
        model.registerModule(`relu${k}`, new Identity());
        fused++;
      }
    }
  }
  return fused;
}
