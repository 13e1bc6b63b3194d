// A placeholder layer that returns its input, after torch.nn.Identity (e.g. to remove a layer
// with setSubmodule while keeping the model's structure).
import { Tensor } from '../engine';
import { Module } from './module';

export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}
