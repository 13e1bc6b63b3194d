// A quantized fully connected layer: input quantizer, weight quantizer, then y = x Wᵀ + b.
import { Tensor, F } from '../engine';
import { Linear } from '../nn';
import { QuantizedLayer, LayerQuantizers } from './qlayer';

export class QLinear extends QuantizedLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  /** Takes over linear's weight and bias (the Linear must not be used or disposed afterwards). */
  constructor(linear: Linear, q: LayerQuantizers) {
    super(linear.weight, linear.bias, q);
    this.inFeatures = linear.inFeatures;
    this.outFeatures = linear.outFeatures;
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.size(-1) !== this.inFeatures) {
      throw new Error(`QLinear: expected input [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    const o = this.quantizedOperands(x);
    return F.linear(o.x, o.w, o.b);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
