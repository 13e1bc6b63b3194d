// Fully connected layer, after torch.nn.Linear: y = x Wᵀ + b, weight [out, in].
import { Tensor, F } from '../engine';
import { Module } from './module';
import * as init from './init';

export interface LinearOptions { bias?: boolean }

export class Linear extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, o: LinearOptions = {}) {
    super();
    if (![inFeatures, outFeatures].every((v) => Number.isInteger(v) && v > 0)) {
      throw new Error(`Linear: feature counts must be positive integers, got ${inFeatures}, ${outFeatures}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const w = this.registerParameter('weight', Tensor.zeros([outFeatures, inFeatures]))!;
    this.registerParameter('bias', o.bias ?? true ? Tensor.zeros([outFeatures]) : null);
    // PyTorch's default: kaiming_uniform_(a=√5), i.e. U(±1/√in), and the bias U(±1/√in).
    init.kaimingUniform(w, { a: Math.sqrt(5) });
    if (this.bias) init.uniform(this.bias, -1 / Math.sqrt(inFeatures), 1 / Math.sqrt(inFeatures));
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.size(-1) !== this.inFeatures) {
      throw new Error(`Linear: expected input [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    return F.linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
