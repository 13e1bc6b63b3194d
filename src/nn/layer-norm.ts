// Layer normalization over the trailing dimensions, after torch.nn.LayerNorm (weight, bias).
import { Tensor, F } from '../engine';
import { Module } from './module';

export interface LayerNormOptions { eps?: number; weight?: boolean; bias?: boolean }

export class LayerNorm extends Module {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly normalizedShape: number[];
  readonly eps: number;

  constructor(normalizedShape: number[], o: LayerNormOptions = {}) {
    super();
    if (!normalizedShape.length || !normalizedShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`LayerNorm: normalizedShape must be positive integers, got [${normalizedShape.join(', ')}]`);
    }
    this.normalizedShape = [...normalizedShape];
    this.eps = o.eps ?? 1e-5;
    this.registerParameter('weight', o.weight ?? true ? Tensor.ones(normalizedShape) : null);
    this.registerParameter('bias', o.bias ?? true ? Tensor.zeros(normalizedShape) : null);
  }

  override forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    if (x.ndim < k || x.shape.slice(-k).some((d, i) => d !== this.normalizedShape[i])) {
      throw new Error(`LayerNorm: expected input [..., ${this.normalizedShape.join(', ')}], got [${x.shape.join(', ')}]`);
    }
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')},), eps=${this.eps}, elementwise_affine=${this.weight ? 'True' : 'False'}`;
  }
}
