// Flattens dimensions startDim..endDim into one, after torch.nn.Flatten (default: all but the batch).
import { Tensor } from '../engine';
import { Module } from './module';

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  override forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}
