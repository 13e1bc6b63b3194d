// Epilogue fusion where the model's data flow is known: after the BatchNorms are folded, a
// ResNet BasicBlock whose two convolutions are packed runs as conv1(+ReLU, +conv2's quantizer:
// it writes conv2's input codes) then conv2(+residual, +ReLU), and a SmallCNN stage's ReLU
// moves into its conv. Consecutive fused blocks then run as one chain in which each block's
// conv2 also writes the next block's input codes. Each fusion saves a full pass over the
// activations (an add, a ReLU, a quantizer), which at low bit-widths cost as much as the
// convolutions themselves.
import { Tensor, scope } from '../engine';
import { Module, ReLU, Identity } from '../nn';
import { BasicBlock, ResNet, SmallCNN } from '../models';
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
    return scope(() => this.run(x, null, null)[0]);
  }

  /**
   * The block on x, whose codes for conv1 may come along (from the previous block); with
   * `next`, also the codes of the output for that layer.
   */
  run(x: Tensor, codes: Tensor | null, next: PackedConv2d | null): [Tensor, Tensor | null] {
    const identity = this.downsample ? this.downsample.call(x) : x;
    // conv1's epilogue writes conv2's input codes directly: its fp32 output never exists.
    const h = this.conv1.convolve(codes ?? this.conv1.codesOf(x), x.shape, null, this.conv2);
    const shape = this.conv1.outputShape(x.shape);
    return next ? this.conv2.convolveBoth(h, shape, identity, next) : [this.conv2.convolve(h, shape, identity), null];
  }
}

/** Consecutive fused blocks (a ResNet's stages), each handing its output's codes to the next. */
export class FusedBlockChain extends Module {
  private readonly blocks: FusedBasicBlock[];

  constructor(blocks: FusedBasicBlock[]) {
    super();
    this.blocks = blocks;
    blocks.forEach((b, i) => this.registerModule(String(i), b));
  }

  override forward(x: Tensor): Tensor {
    return scope(() => {
      let codes: Tensor | null = null;
      this.blocks.forEach((b, i) => {
        const next = this.blocks[i + 1]?.conv1 ?? null;
        [x, codes] = b.run(x, codes, next);
      });
      return x;
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
  // A ResNet whose every block is fused: its stages become one chain (layer1 holds it, the
  // other stages become identities; the model's forward chains its children in order).
  if (model instanceof ResNet) {
    const stages = model.namedChildren().filter(([n]) => /^layer\d+$/.test(n));
    const blocks = stages.flatMap(([, st]) => st.namedChildren().map(([, b]) => b));
    if (stages.length && blocks.every((b) => b instanceof FusedBasicBlock)) {
      model.registerModule(stages[0][0], new FusedBlockChain(blocks as FusedBasicBlock[]));
      for (const [name] of stages.slice(1)) model.registerModule(name, new Identity());
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
