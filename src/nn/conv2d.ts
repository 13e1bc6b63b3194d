// 2-D convolution layer, after torch.nn.Conv2d (weight [out, in/groups, kh, kw], optional bias).
import { Tensor, F } from '../engine';
import { Module } from './module';
import * as init from './init';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);
const fmt = (p: [number, number]): string => `(${p[0]}, ${p[1]})`;

export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean }

export class Conv2d extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, o: Conv2dOptions = {}) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.dilation = pair(o.dilation ?? 1);
    this.groups = o.groups ?? 1;
    const positive = (v: number): boolean => Number.isInteger(v) && v > 0;
    if (![inChannels, outChannels, ...this.kernelSize, ...this.stride, ...this.dilation, this.groups].every(positive) ||
        !this.padding.every((p) => Number.isInteger(p) && p >= 0)) {
      throw new Error(`Conv2d: sizes must be positive integers and padding non-negative, got ${this.describe()}`);
    }
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    }
    const w = this.registerParameter('weight', Tensor.zeros([outChannels, inChannels / this.groups, ...this.kernelSize]))!;
    this.registerParameter('bias', o.bias ?? true ? Tensor.zeros([outChannels]) : null);
    this.resetParameters(w);
  }

  // PyTorch's default: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in), and the bias U(±1/√fan_in).
  private resetParameters(w: Tensor): void {
    init.kaimingUniform(w, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = 1 / Math.sqrt(init.fans(w).fanIn);
      init.uniform(this.bias, -bound, bound);
    }
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.size(1) !== this.inChannels) {
      throw new Error(`Conv2d: expected input [N, ${this.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  private describe(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}`;
    if (this.padding[0] || this.padding[1]) s += `, padding=${fmt(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${fmt(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    return s;
  }

  override extraRepr(): string {
    return this.describe() + (this.bias ? '' : ', bias=False');
  }
}
