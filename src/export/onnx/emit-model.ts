// A gdnsq model (eval mode) as ONNX nodes, module by module, mirroring each module's forward():
// the containers (ResNet, BasicBlock, SmallCNN, Sequential) by their structure, the leaf layers
// by the ONNX op with the same semantics. Anything else is named in one line and refused.
import { Tensor } from '../../engine';
import { Module, Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Sequential, Identity, Dropout } from '../../nn';
import { ResNet, BasicBlock, SmallCNN, GraphModel } from '../../models';
import { GraphEmitter } from './emit-graph';
import { QConv2d, QLinear, QuantizedLayer } from '../../quant';
import { GraphBuilder, attr, Attr } from './graph-builder';
import { QuantizerExport, emitActivation, emitWeight } from './emit-quant';

type Pair = number | [number, number];
const pair = (v: Pair | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
const floats = (t: Tensor): number[] => Array.from(t.detach().contiguous().data() as Float32Array);
const join = (path: string, name: string): string => (path ? `${path}.${name}` : name);

export class ModelEmitter {
  readonly quantizers: QuantizerExport[] = [];

  constructor(readonly g: GraphBuilder, readonly opset: number) {}

  emit(m: Module, x: string, path: string): string {
    if (m instanceof GraphModel) return new GraphEmitter(this, m).emit(x);
    if (m instanceof ResNet || m instanceof SmallCNN) return this.classifier(m, x, path);
    if (m instanceof BasicBlock) return this.basicBlock(m, x, path);
    if (m instanceof Sequential) return this.chain(m.namedChildren(), x, path);
    if (m instanceof QConv2d || m instanceof QLinear) return this.quantized(m, x, path);
    if (m instanceof Conv2d) return this.conv(x, path, m, this.g.floats(`${path}.weight`, floats(m.weight), m.weight.shape), m.bias);
    if (m instanceof Linear) return this.gemm(x, path, this.g.floats(`${path}.weight`, floats(m.weight), m.weight.shape), m.bias);
    if (m instanceof BatchNorm2d) return this.batchNorm(m, x, path);
    if (m instanceof ReLU) return this.g.op('Relu', [x], path);
    if (m instanceof MaxPool2d || m instanceof AvgPool2d) return this.pool(m, x, path);
    if (m instanceof AdaptiveAvgPool2d && pair(m.outputSize, 1).every((s) => s === 1)) return this.g.op('GlobalAveragePool', [x], path);
    if (m instanceof Flatten && m.endDim === -1 && m.startDim >= 0) return this.g.op('Flatten', [x], path, [attr.int('axis', m.startDim)]);
    if (m instanceof Identity || m instanceof Dropout) return x;
    throw new Error(`onnx export: unsupported layer '${path || '(model)'}' (${m.constructor.name}${m.extraRepr() ? `(${m.extraRepr()})` : ''})`);
  }

  private chain(children: [string, Module][], x: string, path: string): string {
    return children.reduce((v, [name, c]) => this.emit(c, v, join(path, name)), x);
  }

  // ResNet and SmallCNN: every child but fc in order, flatten(1), fc.
  private classifier(m: ResNet | SmallCNN, x: string, path: string): string {
    const body = this.chain(m.namedChildren().filter(([n]) => n !== 'fc'), x, path);
    const flat = this.g.op('Flatten', [body], join(path, 'flatten'), [attr.int('axis', 1)]);
    return this.emit(m.fc, flat, join(path, 'fc'));
  }

  private basicBlock(m: BasicBlock, x: string, path: string): string {
    const main: [string, Module][] = [['conv1', m.conv1], ['bn1', m.bn1], ['relu', m.relu], ['conv2', m.conv2], ['bn2', m.bn2]];
    const out = this.chain(main, x, path);
    const identity = m.downsample ? this.emit(m.downsample, x, join(path, 'downsample')) : x;
    const sum = this.g.op('Add', [out, identity], join(path, 'add'));
    return this.emit(m.relu, sum, join(path, 'relu_out'));
  }

  private quantized(m: QuantizedLayer, x: string, path: string): string {
    const a = emitActivation(this.g, m.act_quant, x, `${path}.act_quant`, this.opset);
    const w = emitWeight(this.g, m.weight_quant, m.weight, `${path}.weight`, this.opset);
    this.quantizers.push(a.info, w.info);
    let bias: string | Tensor | null = m.bias;
    if (m.bias && m.bias_quant) {
      const b = emitWeight(this.g, m.bias_quant, m.bias, `${path}.bias`, this.opset);
      this.quantizers.push(b.info);
      bias = b.value;
    }
    return m instanceof QConv2d ? this.conv(a.value, path, m, w.value, bias) : this.gemm(a.value, path, w.value, bias);
  }

  private biasValue(path: string, b: string | Tensor | null): string[] {
    if (b === null) return [];
    return [typeof b === 'string' ? b : this.g.floats(`${path}.bias`, floats(b), b.shape)];
  }

  private conv(x: string, path: string, m: Conv2d | QConv2d, w: string, b: string | Tensor | null): string {
    const [ph, pw] = m.padding;
    const attrs: Attr[] = [
      attr.ints('kernel_shape', m.kernelSize), attr.ints('strides', m.stride), attr.ints('pads', [ph, pw, ph, pw]),
      attr.ints('dilations', m.dilation), attr.int('group', m.groups),
    ];
    return this.g.op('Conv', [x, w, ...this.biasValue(path, b)], path, attrs);
  }

  // y = x Wᵀ + b on a [N, in] input (the classifiers flatten before fc).
  private gemm(x: string, path: string, w: string, b: string | Tensor | null): string {
    return this.g.op('Gemm', [x, w, ...this.biasValue(path, b)], path, [attr.int('transB', 1)]);
  }

  private batchNorm(m: BatchNorm2d, x: string, path: string): string {
    if (!m.runningMean || !m.runningVar) throw new Error(`onnx export: unsupported layer '${path}' (BatchNorm2d without running statistics)`);
    const c = m.numFeatures;
    const scale = m.weight ? floats(m.weight) : new Array<number>(c).fill(1);
    const shift = m.bias ? floats(m.bias) : new Array<number>(c).fill(0);
    const inputs = [x, this.g.floats(`${path}.weight`, scale, [c]), this.g.floats(`${path}.bias`, shift, [c]),
      this.g.floats(`${path}.running_mean`, floats(m.runningMean), [c]), this.g.floats(`${path}.running_var`, floats(m.runningVar), [c])];
    return this.g.op('BatchNormalization', inputs, path, [attr.float('epsilon', m.eps)]);
  }

  private pool(m: MaxPool2d | AvgPool2d, x: string, path: string): string {
    const k = pair(m.kernelSize, 1);
    const [ph, pw] = pair(m.options.padding, 0);
    const attrs: Attr[] = [attr.ints('kernel_shape', k), attr.ints('strides', pair(m.options.stride, 0).map((s, i) => s || k[i])),
      attr.ints('pads', [ph, pw, ph, pw]), attr.int('ceil_mode', m.options.ceilMode ? 1 : 0)];
    if (m instanceof MaxPool2d) return this.g.op('MaxPool', [x], path, [...attrs, attr.ints('dilations', pair(m.options.dilation, 1))]);
    // PyTorch counts the padding in the average by default, ONNX does not.
    return this.g.op('AveragePool', [x], path, [...attrs, attr.int('count_include_pad', m.options.countIncludePad === false ? 0 : 1)]);
  }
}
