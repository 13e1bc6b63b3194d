// One quantized convolution run on its integer codes, with the BatchNorm that follows it folded
// into the per-channel epilogue (runtime/kernels.ts). With x̂ = s_a·q_a + b_a, ŵ = s_w·q_w + lo
// and BN(y) = k·y + m:
//   BN(conv(x̂, ŵ) + bias) = k·s_a·s_w·Σq_a·q_w + k·s_a·lo·Σq_a + k·(bias + b_a·Σ_valid ŵ) + m.
// Σ_valid ŵ (the taps inside the image, i.e. not zero padding) depends on the output position
// only at the border; it is a bias map computed once per input size with libtorch, and needed
// only when b_a ≠ 0 (learned lower bounds; post-ReLU quantizers have b_a = 0). A depthwise
// convolution (groups = channels) runs on its own direct kernel with the same epilogue.
import { Tensor, F, keep, noGrad, scope } from '../engine';
import { Module, BatchNorm2d } from '../nn';
import { QConv2d, QuantizedLayer } from '../quant';
import { KernelMode, ConvKernel, ActGrid, ConvGeometry, channelsLast, packWeights, quantizeActivations, lowbitConv2d, lowbitConv2dWithCodes, convOutputShape } from './kernels';

/** What the runtime needs of one packed layer: its integer weight codes and their grid. */
export interface PackedWeights { codes: Tensor; bits: number; scale: Tensor; lower: Tensor }

/** A convolution with one filter per channel (what MobileNets call depthwise). */
export function isDepthwise(l: QConv2d): boolean {
  return l.groups > 1 && l.groups === l.inChannels && l.outChannels === l.inChannels;
}

/** The epilogue terms of a packed layer (kept in the caller's scope) and, when b_a ≠ 0, k·b_a·ŵ (the shape of the codes). */
export interface EpilogueTerms { alpha: Tensor; beta: Tensor; gamma: Tensor; scaledWeight: Tensor | null }

/** The epilogue of layer on the grids act and w, with the affine k·y + m (a folded BatchNorm) after it. */
export function epilogueTerms(layer: QuantizedLayer, w: PackedWeights, act: ActGrid, k: Tensor, m: Tensor): EpilogueTerms {
  const o = w.codes.size(0), per = [o, ...w.codes.shape.slice(1).map(() => 1)];
  const b = layer.bias ? layer.bias.detach() : null;
  const bias = b ? (layer.bias_quant ? layer.bias_quant.forward(b) : b) : Tensor.zeros([o]);
  const sw = w.scale.reshape([-1]).expand([o]), lo = w.lower.reshape([-1]).expand([o]);
  const ka = k.mul(act.s);
  const scaledWeight = act.lo === 0 ? null : w.codes.to('float32').mul(sw.reshape(per)).add(lo.reshape(per)).mul(k.reshape(per).mul(act.lo));
  return { alpha: ka.mul(sw).contiguous(), beta: ka.mul(lo).contiguous(), gamma: k.mul(bias).add(m).contiguous(), scaledWeight };
}

export class PackedConv2d extends Module {
  /** The kernel that runs it. */
  readonly kernel: ConvKernel;
  /** The layout of its input codes: the kernel of a plain convolution, 'int8' (bytes) for a depthwise one. */
  readonly mode: KernelMode;
  readonly act: ActGrid;
  readonly wbits: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly geometry: ConvGeometry;
  /** 1, or the channel count of a depthwise convolution. */
  readonly groups: number;
  declare readonly weights: Tensor;
  declare readonly alpha: Tensor;
  declare readonly beta: Tensor;
  declare readonly gamma: Tensor;
  /** k·ŵ, kept only when b_a ≠ 0 (for the bias maps). */
  declare readonly scaledWeight: Tensor | null;
  private readonly biasMaps = new Map<string, Tensor>();
  /** Apply ReLU in the epilogue (the caller removes the separate ReLU). */
  relu = false;

  /** layer: the quantized conv (eval mode); w: its packed codes; bn: the BatchNorm to fold, if any; mode: the kernel of a non-depthwise conv. */
  constructor(layer: QConv2d, w: PackedWeights, bn: BatchNorm2d | null, mode: KernelMode) {
    super();
    const depthwise = isDepthwise(layer);
    if ((layer.groups !== 1 && !depthwise) || layer.dilation.some((d) => d !== 1)) throw new Error('PackedConv2d: grouped (other than depthwise) and dilated convolutions are not supported');
    this.kernel = depthwise ? 'depthwise' : mode;
    this.mode = depthwise ? 'int8' : mode;
    this.groups = layer.groups;
    this.inChannels = layer.inChannels;
    this.outChannels = layer.outChannels;
    this.geometry = { kernel: layer.kernelSize, stride: layer.stride, padding: layer.padding };
    this.wbits = w.bits;
    this.act = activationGrid(layer);
    if (this.kernel === 'int8' && w.bits > 7) throw new Error(`PackedConv2d: the int8 kernel takes weights of at most 7 bits, got ${w.bits}`);
    noGrad(() => scope(() => {
      const o = this.outChannels;
      const { k, m } = bn ? foldBatchNorm(bn) : { k: Tensor.ones([o]), m: Tensor.zeros([o]) };
      const t = epilogueTerms(layer, w, this.act, k, m);
      this.registerBuffer('weights', keep(packWeights(w.codes, w.bits, this.kernel)));
      this.registerBuffer('alpha', keep(t.alpha));
      this.registerBuffer('beta', keep(t.beta));
      this.registerBuffer('gamma', keep(t.gamma));
      this.registerBuffer('scaledWeight', t.scaledWeight ? keep(t.scaledWeight) : null);
    }));
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.size(1) !== this.inChannels) {
      throw new Error(`PackedConv2d: expected input [N, ${this.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    return scope(() => this.convolve(this.codesOf(x), x.shape, null));
  }

  /** The convolution with `residual` added before the (optional) ReLU. */
  forwardAdd(x: Tensor, residual: Tensor): Tensor {
    return scope(() => this.convolve(this.codesOf(x), x.shape, residual));
  }

  /** The codes of input x in this layer's kernel layout. */
  codesOf(x: Tensor): Tensor {
    return quantizeActivations(channelsLast(x), this.act, this.mode, this.geometry.padding);
  }

  /**
   * The convolution of codes of an input of `inputShape`: the fp32 output, or with `next` the
   * codes of the output for that layer (its quantizer fused into this epilogue).
   */
  convolve(acts: Tensor, inputShape: number[], residual: Tensor | null, next?: PackedConv2d): Tensor {
    return lowbitConv2d(this.kernel, acts, this.act.bits, inputShape, this.weights, this.wbits, this.outChannels, this.geometry, {
      alpha: this.alpha, beta: this.beta, gamma: this.gamma, biasMap: this.biasMap(inputShape[2], inputShape[3]), residual, relu: this.relu,
    }, next ? { mode: next.mode, grid: next.act, padding: next.geometry.padding } : undefined);
  }

  /** convolve with `next`, keeping the fp32 output too: [output, its codes for next]. */
  convolveBoth(acts: Tensor, inputShape: number[], residual: Tensor | null, next: PackedConv2d): [Tensor, Tensor] {
    return lowbitConv2dWithCodes(this.kernel, acts, this.act.bits, inputShape, this.weights, this.wbits, this.outChannels, this.geometry, {
      alpha: this.alpha, beta: this.beta, gamma: this.gamma, biasMap: this.biasMap(inputShape[2], inputShape[3]), residual, relu: this.relu,
    }, { mode: next.mode, grid: next.act, padding: next.geometry.padding });
  }

  outputShape(inputShape: number[]): number[] { return convOutputShape(inputShape, this.outChannels, this.geometry); }

  private biasMap(h: number, w: number): Tensor | null {
    if (!this.scaledWeight) return null;
    const key = `${h}x${w}`;
    let map = this.biasMaps.get(key);
    if (!map) {
      map = noGrad(() => scope(() => keep(F.conv2d(Tensor.ones([1, this.inChannels, h, w]), this.scaledWeight as Tensor, null,
        { stride: this.geometry.stride, padding: this.geometry.padding, groups: this.groups }).permute([0, 2, 3, 1]).contiguous())));
      this.biasMaps.set(key, map);
    }
    return map;
  }

  override dispose(): void {
    for (const t of this.biasMaps.values()) t.dispose();
    this.biasMaps.clear();
    super.dispose();
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, W${this.wbits}A${this.act.bits}, ${this.kernel}${this.relu ? ', relu' : ''}`;
  }
}

/** BN in eval mode as y·k + m. */
export function foldBatchNorm(bn: BatchNorm2d): { k: Tensor; m: Tensor } {
  const n = bn.numFeatures;
  const mean = bn.runningMean ?? Tensor.zeros([n]), variance = bn.runningVar ?? Tensor.ones([n]);
  const k = variance.add(bn.eps).rsqrt().mul(bn.weight ? bn.weight.detach() : Tensor.ones([n]));
  const m = (bn.bias ? bn.bias.detach() : Tensor.zeros([n])).sub(mean.mul(k));
  return { k, m };
}

/**
 * The activation quantizer's grid in float32 exactly as the fake quantizer computes it (ATen
 * exp2, add, relu), and the code width that holds its largest code.
 */
export function activationGrid(layer: QuantizedLayer): ActGrid {
  const q = layer.act_quant;
  if (!q.enabled) throw new Error('packed runtime: the layer has no activation quantizer');
  return noGrad(() => scope(() => {
    if (q.isPruned) {
      const b = q.lower.item();
      return { lo: b, hi: b, s: 1, bits: 1 };
    }
    const g = q.grid(Tensor.zeros([1]));
    const lo = g.lo.item(), hi = g.hi.item(), s = g.sigma.exp2().item();
    const maxCode = Math.round(Math.fround(Math.fround(hi - lo) / s));
    const bits = Math.max(1, Math.ceil(Math.log2(maxCode + 1)));
    if (bits > 8) throw new Error(`packed runtime: activation codes need ${bits} bits (at most 8): the model did not converge`);
    return { lo, hi, s, bits };
  }));
}

/** Stands where a folded BatchNorm was (its affine now lives in the conv's epilogue). */
export class IdentityAfterFold extends Module {
  override forward(x: Tensor): Tensor { return x; }
}

/** The BatchNorm that consumes a conv's output, by torchvision's naming: convK → bnK, downsample.0 → .1. */
export function batchNormNameFor(convKey: string): string | null {
  const m = /^conv(\d*)$/.exec(convKey);
  if (m) return `bn${m[1]}`;
  return /^\d+$/.test(convKey) ? String(Number(convKey) + 1) : null;
}
