// Average pooling to a fixed output size, after torch.nn.AdaptiveAvgPool2d (1 = global pooling).
import { Tensor, F } from '../engine';
import { Module } from './module';

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }

  override forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }

  override extraRepr(): string {
    const s = this.outputSize;
    return `output_size=${typeof s === 'number' ? s : `(${s[0]}, ${s[1]})`}`;
  }
}
