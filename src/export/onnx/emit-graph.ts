// An imported graph model back to ONNX: each node as the op it was imported from, the layer
// modules through ModelEmitter (so a quantized Conv/Gemm gets the same QuantizeLinear /
// DequantizeLinear pairs as a ResNet's), a MatMul-form Linear as Transpose → MatMul (→ Add), the
// constants and owned tensors as initializers. The graph is written at an opset at least its own;
// the few ops whose form changed on the way (ReduceMean's axes at 18, Split's outputs at 18) are
// rewritten.
import { Tensor } from '../../engine';
import { Module, Linear, LayerNorm } from '../../nn';
import { GraphModel, GraphNode } from '../../models';
import { QLinear } from '../../quant';
import { GraphBuilder, attr, Attr } from './graph-builder';
import type { ModelEmitter } from './emit-model';
import { emitActivation, emitWeight } from './emit-quant';
import { AttrType, DataType } from './schema';

const floats = (t: Tensor): number[] => Array.from(t.detach().contiguous().data() as Float32Array);

function attrsOf(n: GraphNode, opset: number): Attr[] {
  const out: Attr[] = [];
  const isFloat = new Set(n.floatAttrs ?? []);
  for (const [name, v] of Object.entries(n.attrs)) {
    if (n.op === 'ConstantOfShape' && name === 'value_dtype') continue;
    if (n.op === 'ConstantOfShape' && name === 'value') {
      const int = n.attrs.value_dtype === 'int64';
      const raw = int ? new Uint8Array(BigInt64Array.of(BigInt(v as number)).buffer) : new Uint8Array(Float32Array.of(v as number).buffer);
      out.push({ name, type: AttrType.TENSOR, t: { name: '', data_type: int ? DataType.INT64 : DataType.FLOAT, dims: [1], raw_data: raw } });
      continue;
    }
    if ((n.op === 'ReduceMean' || n.op === 'ReduceSum') && name === 'axes' && opset >= 18) continue;
    if (typeof v === 'string') out.push({ name, type: AttrType.STRING, s: new Uint8Array(Buffer.from(v, 'utf8')) });
    else if (Array.isArray(v)) out.push(isFloat.has(name) ? { name, type: AttrType.FLOATS, floats: v } : attr.ints(name, v));
    else out.push(isFloat.has(name) ? attr.float(name, v) : attr.int(name, v));
  }
  if (n.op === 'Split' && opset >= 18 && !n.inputs[1] && !('split' in n.attrs)) out.push(attr.int('num_outputs', n.outputs.length));
  return out;
}

export class GraphEmitter {
  private readonly names = new Map<string, string>();

  constructor(readonly e: ModelEmitter, readonly m: GraphModel) {}

  private get g(): GraphBuilder { return this.e.g; }

  /** The builder's name of a graph value: an earlier output, or a constant/owned tensor written on first use. */
  private value(v: string): string {
    if (v === '') return '';
    const have = this.names.get(v);
    if (have) return have;
    const d = this.m.desc;
    let name: string;
    const c = d.constants[v];
    const owned = d.tensors[v];
    if (c) name = c.dtype === 'int64' ? this.g.int64s(v, c.data, c.dims) : this.g.floats(v, c.data, c.dims);
    else if (owned) name = this.g.floats(owned.key, floats(this.m.stateDict()[owned.key]), owned.dims);
    else throw new Error(`onnx export: graph value '${v}' is not computed before it is read`);
    this.names.set(v, name);
    return name;
  }

  emit(x: string): string {
    const d = this.m.desc;
    this.names.set(d.input.name, x);
    for (const n of d.nodes) {
      const outs = n.module ? [this.layer(n)] : this.node(n);
      n.outputs.forEach((o, i) => { if (o) this.names.set(o, outs[i]); });
    }
    const y = this.value(d.output);
    const last = this.g.nodes[this.g.nodes.length - 1];
    return last && last.output[0] === y ? y : this.g.op('Identity', [y], 'output');
  }

  private node(n: GraphNode): string[] {
    const opset = this.e.opset;
    const inputs = n.inputs.map((v) => this.value(v));
    if ((n.op === 'ReduceMean' || n.op === 'ReduceSum') && Array.isArray(n.attrs.axes) && opset >= 18 && !n.inputs[1]) {
      inputs[1] = this.g.int64s(`${n.name}_axes`, n.attrs.axes, [n.attrs.axes.length]);
    }
    while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
    const base = n.name.replace(/^\//, '') || n.op;
    const outputs = n.outputs.map((o) => (o ? this.g.fresh(base) : ''));
    this.g.nodes.push({ name: outputs.find(Boolean) ?? this.g.fresh(base), op_type: n.op, input: inputs, output: outputs, attribute: attrsOf(n, opset) });
    return outputs;
  }

  private layer(n: GraphNode): string {
    const path = n.module!;
    const mod: Module = this.m.getSubmodule(path);
    const x = this.value(n.inputs[0]);
    const spec = this.m.desc.modules[path];
    if (mod instanceof LayerNorm) return this.layerNorm(mod, x, path);
    if (spec.type === 'Linear' && spec.from === 'MatMul' && (mod instanceof Linear || mod instanceof QLinear)) return this.matmul(mod, x, path);
    return this.e.emit(mod, x, path);
  }

  // y = x Wᵀ + b for [..., in] input: MatMul by the transposed (dequantized) weight.
  private matmul(m: Linear | QLinear, x: string, path: string): string {
    let a = x, wT: string;
    if (m instanceof QLinear) {
      const q = emitActivation(this.g, m.act_quant, x, `${path}.act_quant`, this.e.opset);
      const w = emitWeight(this.g, m.weight_quant, m.weight, `${path}.weight`, this.e.opset);
      this.e.quantizers.push(q.info, w.info);
      a = q.value;
      wT = this.g.op('Transpose', [w.value], `${path}.weight_t`, [attr.ints('perm', [1, 0])]);
    } else {
      const [o, i] = m.weight.shape;
      const w = floats(m.weight);
      const t = new Array<number>(o * i);
      for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) t[c * o + r] = w[r * i + c];
      wT = this.g.floats(`${path}.weight_t`, t, [i, o]);
    }
    const y = this.g.op('MatMul', [a, wT], `${path}.matmul`);
    if (!m.bias) return y;
    let b: string;
    if (m instanceof QLinear && m.bias_quant) {
      const q = emitWeight(this.g, m.bias_quant, m.bias, `${path}.bias`, this.e.opset);
      this.e.quantizers.push(q.info);
      b = q.value;
    } else b = this.g.floats(`${path}.bias`, floats(m.bias), m.bias.shape);
    return this.g.op('Add', [y, b], path);
  }

  private layerNorm(m: LayerNorm, x: string, path: string): string {
    const shape = m.normalizedShape;
    const w = m.weight ? this.g.floats(`${path}.weight`, floats(m.weight), shape) : this.g.floats(`${path}.weight`, new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1), shape);
    const inputs = [x, w, ...(m.bias ? [this.g.floats(`${path}.bias`, floats(m.bias), shape)] : [])];
    return this.g.op('LayerNormalization', inputs, path, [attr.int('axis', -shape.length), attr.float('epsilon', m.eps)]);
  }
}
