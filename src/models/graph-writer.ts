// Writes a graph description (graph-desc.ts) from TypeScript, so an architecture of the registry
// can be a GraphModel: the same data an ONNX import produces, hence quantize(), ONNX export,
// packed files and every command treat it as they treat an imported graph. Each call adds one
// node and returns its output's value name; layer modules are named by their module path (the
// state-dict prefix), the other nodes by a path-like name the caller gives.
import { AttrValue, GraphConst, GraphDesc, GraphNode, ModuleSpec, GRAPH_FORMAT } from './graph-desc';

export interface ConvSpec { kernel: number; stride?: number; padding?: number; groups?: number; bias?: boolean }

export class GraphWriter {
  private readonly nodes: GraphNode[] = [];
  private readonly constants: Record<string, GraphConst> = {};
  private readonly tensors: GraphDesc['tensors'] = {};
  private readonly modules: Record<string, ModuleSpec> = {};
  private readonly values = new Set<string>();
  /** Constant data → its value name, so equal constants are written once. */
  private readonly constByData = new Map<string, string>();

  /** input: the graph input's value name; opset: the ONNX opset whose op semantics the nodes use. */
  constructor(readonly opset: number, readonly input = 'input') {
    this.values.add(input);
  }

  private claim(name: string): string {
    if (this.values.has(name)) throw new Error(`graph writer: value '${name}' is written twice`);
    this.values.add(name);
    return name;
  }

  /** A weightless ONNX node with one output, named `name`. */
  op(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const out = this.claim(name);
    this.nodes.push({ op, name, inputs, outputs: [out], attrs });
    return out;
  }

  private constant(c: GraphConst): string {
    const key = JSON.stringify(c);
    const have = this.constByData.get(key);
    if (have) return have;
    const name = this.claim(`const_${this.constByData.size}`);
    this.constants[name] = c;
    this.constByData.set(key, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes) or, with dims [], a scalar (an index). */
  ints(data: number[], dims: number[] = [data.length]): string {
    return this.constant({ dtype: 'int64', dims, data });
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    return this.constant({ dtype: 'float32', dims: [], data: [Math.fround(v)] });
  }

  /** A float tensor owned by the model (a parameter under its state-dict key). */
  parameter(key: string, dims: number[]): string {
    const v = this.claim(key);
    this.tensors[v] = { key, kind: 'parameter', dims };
    return v;
  }

  private layer(op: string, path: string, x: string, spec: ModuleSpec): string {
    if (path in this.modules) throw new Error(`graph writer: module '${path}' is written twice`);
    this.modules[path] = spec;
    const out = this.claim(path);
    this.nodes.push({ op, name: path, inputs: [x], outputs: [out], attrs: {}, module: path });
    return out;
  }

  conv(path: string, x: string, inChannels: number, outChannels: number, s: ConvSpec): string {
    const st = s.stride ?? 1, p = s.padding ?? 0;
    return this.layer('Conv', path, x, {
      type: 'Conv2d', inChannels, outChannels, kernel: [s.kernel, s.kernel], stride: [st, st], padding: [p, p],
      dilation: [1, 1], groups: s.groups ?? 1, bias: s.bias ?? false,
    });
  }

  batchNorm(path: string, x: string, channels: number): string {
    return this.layer('BatchNormalization', path, x, { type: 'BatchNorm2d', numFeatures: channels, eps: 1e-5, momentum: 0.1 });
  }

  /** from 'Gemm': a [N, in] input; 'MatMul': [..., in] (tokens). */
  linear(path: string, x: string, inFeatures: number, outFeatures: number, from: 'Gemm' | 'MatMul'): string {
    return this.layer('Linear', path, x, { type: 'Linear', inFeatures, outFeatures, bias: true, from });
  }

  layerNorm(path: string, x: string, features: number, eps = 1e-5): string {
    return this.layer('LayerNormalization', path, x, { type: 'LayerNorm', shape: [features], eps, weight: true, bias: true });
  }

  /** The description; `inputShape` without the batch dimension. */
  finish(inputShape: number[], output: string): GraphDesc {
    return {
      format: GRAPH_FORMAT, opset: this.opset, input: { name: this.input, shape: inputShape }, output,
      nodes: this.nodes, constants: this.constants, tensors: this.tensors, modules: this.modules,
    };
  }
}
