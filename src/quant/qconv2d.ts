// A quantized 2-D convolution: input quantizer, weight quantizer, then the plain convolution.
import { Tensor, F } from '../engine';
import { Conv2d } from '../nn';
import { QuantizedLayer, LayerQuantizers } from './qlayer';

export class QConv2d extends QuantizedLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  /** Takes over conv's weight and bias (the Conv2d must not be used or disposed afterwards). */
  constructor(conv: Conv2d, q: LayerQuantizers) {
    super(conv.weight, conv.bias, q);
    this.inChannels = conv.inChannels;
    this.outChannels = conv.outChannels;
    this.kernelSize = conv.kernelSize;
    this.stride = conv.stride;
    this.padding = conv.padding;
    this.dilation = conv.dilation;
    this.groups = conv.groups;
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.size(1) !== this.inChannels) {
      throw new Error(`QConv2d: expected input [N, ${this.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    const o = this.quantizedOperands(x);
    return F.conv2d(o.x, o.w, o.b, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    const k = this.kernelSize, s = this.stride, p = this.padding;
    return `${this.inChannels}, ${this.outChannels}, kernel_size=(${k[0]}, ${k[1]}), stride=(${s[0]}, ${s[1]}), padding=(${p[0]}, ${p[1]})` +
      (this.groups !== 1 ? `, groups=${this.groups}` : '') + (this.bias ? '' : ', bias=False');
  }
}
