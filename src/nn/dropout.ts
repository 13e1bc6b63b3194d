// Dropout, after torch.nn.Dropout: in training, zeroes elements with probability p and scales
// the rest by 1/(1-p); the identity in evaluation.
import { Tensor, F } from '../engine';
import { Module } from './module';

export class Dropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be a probability in [0, 1], got ${p}`);
    this.p = p;
  }

  override forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
