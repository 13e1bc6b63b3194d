// One quantized Linear layer run on its integer codes: y = x̂ ŵᵀ + bias over the last dimension
// of x ([..., in], token tensors [N, T, in] included), each row a one-pixel image for the
// convolution kernels (runtime/kernels.ts lowbitLinear). With x̂ = s_a·q_a + b_a, ŵ = s_w·q_w + lo:
//   y = s_a·s_w·Σq_a·q_w + s_a·lo·Σq_a + (bias + b_a·Σ_in ŵ),
// where, without padding, the b_a term is one constant per output feature, folded into gamma.
import { Tensor, keep, noGrad, scope } from '../engine';
import { Module } from '../nn';
import { QLinear } from '../quant';
import { KernelMode, ActGrid, packWeights, lowbitLinear } from './kernels';
import { PackedWeights, activationGrid, epilogueTerms } from './packed-conv';

export class PackedLinear extends Module {
  readonly mode: KernelMode;
  readonly act: ActGrid;
  readonly wbits: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  declare readonly weights: Tensor;
  declare readonly alpha: Tensor;
  declare readonly beta: Tensor;
  declare readonly gamma: Tensor;

  /** layer: the quantized Linear (eval mode); w: its packed codes ([out, in]). */
  constructor(layer: QLinear, w: PackedWeights, mode: KernelMode) {
    super();
    this.mode = mode;
    this.inFeatures = layer.inFeatures;
    this.outFeatures = layer.outFeatures;
    this.wbits = w.bits;
    this.act = activationGrid(layer);
    if (mode === 'int8' && w.bits > 7) throw new Error(`PackedLinear: the int8 kernel takes weights of at most 7 bits, got ${w.bits}`);
    noGrad(() => scope(() => {
      const o = this.outFeatures;
      const codes = w.codes.reshape([o, this.inFeatures, 1, 1]);
      const t = epilogueTerms(layer, { ...w, codes }, this.act, Tensor.ones([o]), Tensor.zeros([o]));
      this.registerBuffer('weights', keep(packWeights(codes, w.bits, mode)));
      this.registerBuffer('alpha', keep(t.alpha));
      this.registerBuffer('beta', keep(t.beta));
      this.registerBuffer('gamma', keep(t.scaledWeight ? t.gamma.add(t.scaledWeight.reshape([o, -1]).sum(1)).contiguous() : t.gamma));
    }));
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.size(-1) !== this.inFeatures) {
      throw new Error(`PackedLinear: expected input [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    return scope(() => {
      const y = lowbitLinear(this.mode, x.reshape([-1, this.inFeatures]), this.act, this.weights, this.wbits, this.outFeatures,
        { alpha: this.alpha, beta: this.beta, gamma: this.gamma });
      return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}, W${this.wbits}A${this.act.bits}, ${this.mode}`;
  }
}
