// BatchNorm "fuse" (GDNSQ.md §4.5 option): fold a BN's running statistics into the preceding
// convolution, w' = w·γ/√(var+ε), b' = β + (b − μ)·γ/√(var+ε) per output channel, so that the
// quantizer sees (and the exported model uses) the weights the inference will run with.
import { Tensor, noGrad, scope } from '../engine';
import { Module, Conv2d, BatchNorm2d } from '../nn';

/** Folds bn into conv in place (conv gains a bias); the caller then removes bn from the model. */
export function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): void {
  const mean = bn.runningMean, variance = bn.runningVar;
  if (!mean || !variance) throw new Error('foldBatchNorm: the BatchNorm2d has no running statistics');
  if (bn.numFeatures !== conv.outChannels) {
    throw new Error(`foldBatchNorm: BatchNorm2d has ${bn.numFeatures} features but the convolution has ${conv.outChannels} output channels`);
  }
  const [w, b] = noGrad(() => scope(() => {
    let scale = variance.add(bn.eps).rsqrt();
    if (bn.weight) scale = scale.mul(bn.weight);
    const shift = (conv.bias ? conv.bias.sub(mean) : mean.neg()).mul(scale);
    const newW = conv.weight.mul(scale.reshape([-1, 1, 1, 1])).contiguous();
    return [newW, bn.bias ? shift.add(bn.bias) : shift];
  }));
  conv.registerParameter('weight', w);
  conv.registerParameter('bias', b);
}

/**
 * The conv→BN pairs of a model by naming convention: `bnK` after its sibling `convK`
 * (torchvision ResNet blocks, the stem), and a BN at index i of a Sequential after the conv at
 * i − 1 (`downsample.0/.1`). Returns [convPath, bnPath] pairs and the BNs that fit neither.
 */
export function convBnPairs(model: Module): { pairs: [string, string][]; unpaired: string[] } {
  const pairs: [string, string][] = [];
  const unpaired: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    const dot = path.lastIndexOf('.');
    const parentPath = dot < 0 ? '' : path.slice(0, dot);
    const name = path.slice(dot + 1);
    const parent = model.getSubmodule(parentPath);
    const sibling = /^\d+$/.test(name) ? String(Number(name) - 1) : name.startsWith('bn') ? `conv${name.slice(2)}` : null;
    const conv = sibling === null ? undefined : parent.namedChildren().find(([n]) => n === sibling)?.[1];
    if (conv instanceof Conv2d) pairs.push([parentPath ? `${parentPath}.${sibling}` : sibling!, path]);
    else unpaired.push(path);
  }
  return { pairs, unpaired };
}
