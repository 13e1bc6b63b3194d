// 2-D max pooling, after torch.nn.MaxPool2d (stride defaults to the kernel size).
import { Tensor, F } from '../engine';
import { Module } from './module';

type Pair = number | [number, number];
export interface MaxPool2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean }

export class MaxPool2d extends Module {
  readonly kernelSize: Pair;
  readonly options: Readonly<MaxPool2dOptions>;

  constructor(kernelSize: Pair, o: MaxPool2dOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.options = { ...o };
  }

  override forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${this.kernelSize}, stride=${o.stride ?? this.kernelSize}, padding=${o.padding ?? 0}, dilation=${o.dilation ?? 1}, ceil_mode=${o.ceilMode ? 'True' : 'False'}`;
  }
}
