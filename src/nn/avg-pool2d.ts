// 2-D average pooling, after torch.nn.AvgPool2d (stride defaults to the kernel size).
import { Tensor, F } from '../engine';
import { Module } from './module';

type Pair = number | [number, number];
export interface AvgPool2dOptions { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean }

export class AvgPool2d extends Module {
  readonly kernelSize: Pair;
  readonly options: Readonly<AvgPool2dOptions>;

  constructor(kernelSize: Pair, o: AvgPool2dOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.options = { ...o };
  }

  override forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${this.kernelSize}, stride=${o.stride ?? this.kernelSize}, padding=${o.padding ?? 0}`;
  }
}
