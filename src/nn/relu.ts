// max(0, x) as a layer, after torch.nn.ReLU.
import { Tensor } from '../engine';
import { Module } from './module';

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}
