// An imported ONNX graph as a Module: nodes run in order; the layers with weights (Conv, Gemm or
// MatMul with a constant weight, BatchNormalization, LayerNormalization) are child modules at the
// paths the import chose (PyTorch's own names where the file has them), so quantize() wraps them
// as it wraps a ResNet's; the other float initializers (positional tensors, class tokens, the
// affine tensors of a decomposed LayerNorm) are parameters of container modules on their dotted
// names, and the constants are non-persistent buffers or JS integers (graph-values.ts). Built from
// the plain description alone (graph-desc.ts), so a checkpoint needs no ONNX file.
import { Tensor } from '../engine';
import { Module, Conv2d, Linear, BatchNorm2d, LayerNorm } from '../nn';
import { Model, ModelArgs, ModelConfig } from './config';
import { GraphDesc, GraphNode, ModuleSpec, GRAPH_FORMAT, GRAPH_MODEL } from './graph-desc';
import { IntVal, Value } from './graph-values';
import { runOp } from './graph-ops';

/** A node of the module tree that only groups children and tensors (a PyTorch submodule's name). */
export class GraphScope extends Module {
  override forward(): Tensor {
    throw new Error('GraphScope: a container of an imported graph is not called on its own');
  }
}

function buildLayer(s: ModuleSpec): Module {
  switch (s.type) {
    case 'Conv2d':
      return new Conv2d(s.inChannels, s.outChannels, s.kernel, { stride: s.stride, padding: s.padding, dilation: s.dilation, groups: s.groups, bias: s.bias });
    case 'Linear': return new Linear(s.inFeatures, s.outFeatures, { bias: s.bias });
    case 'BatchNorm2d': return new BatchNorm2d(s.numFeatures, { eps: s.eps, momentum: s.momentum });
    case 'LayerNorm': return new LayerNorm(s.shape, { eps: s.eps, weight: s.weight, bias: s.bias });
    default: throw new Error(`graph: unknown layer type '${(s as { type: string }).type}'`);
  }
}

export function checkGraphDesc(d: unknown): GraphDesc {
  const g = d as Partial<GraphDesc> | null;
  if (!g || g.format !== GRAPH_FORMAT || !Array.isArray(g.nodes) || !g.input || !g.output || !g.modules || !g.tensors || !g.constants) {
    throw new Error(`graph: not a ${GRAPH_FORMAT} description (the checkpoint's card.graph is missing or corrupt)`);
  }
  return g as GraphDesc;
}

export class GraphModel extends Module implements Model {
  readonly config: ModelConfig;
  readonly desc: GraphDesc;
  private readonly ints = new Map<string, IntVal>();
  /** Value name → [owner module, tensor name] for float constants and owned initializers. */
  private readonly owned = new Map<string, [Module, string]>();
  /** Node index → values no later node reads (freed after it). */
  private readonly lastUse: string[][];

  /**
   * An imported graph takes { numClasses } and has the config { name: 'graph', inChannels,
   * numClasses }; an architecture of the registry written as a graph (mobilenetv2.ts, vit.ts)
   * passes its own full config (with its name), which is kept as is and rebuilds it.
   */
  constructor(desc: GraphDesc, args: ModelArgs | ModelConfig = {}) {
    super();
    this.desc = checkGraphDesc(desc);
    const inChannels = desc.input.shape[0];
    if (args.inChannels !== undefined && args.inChannels !== inChannels) throw new Error(`graph: inChannels ${args.inChannels} does not match the graph's input [${desc.input.shape.join(', ')}]`);
    const numClasses = args.numClasses ?? 0;
    if (!Number.isInteger(numClasses) || numClasses <= 0) throw new Error(`graph: numClasses must be a positive integer, got ${String(args.numClasses)}`);
    this.config = args.name !== undefined && args.name !== GRAPH_MODEL ? (args as ModelConfig) : Object.freeze({ name: GRAPH_MODEL, inChannels, numClasses });
    for (const [path, spec] of Object.entries(desc.modules)) {
      const { parent, leaf } = this.scopeOf(path);
      parent.registerModule(leaf, buildLayer(spec));
    }
    for (const [value, t] of Object.entries(desc.tensors)) {
      const { parent, leaf } = this.scopeOf(t.key);
      if (t.kind === 'parameter') parent.registerParameter(leaf, Tensor.zeros(t.dims));
      else parent.registerBuffer(leaf, Tensor.zeros(t.dims));
      this.owned.set(value, [parent, leaf]);
    }
    let k = 0;
    for (const [value, c] of Object.entries(desc.constants)) {
      if (c.dtype === 'int64') { this.ints.set(value, new IntVal(c.dims, c.data)); continue; }
      const name = `const_${k++}`;
      this.registerBuffer(name, Tensor.from(c.data, c.dims, 'float32'), false);
      this.owned.set(value, [this, name]);
    }
    this.lastUse = this.liveness();
  }

  /** The container a dotted path lives in (created on first use) and the last name. */
  private scopeOf(path: string): { parent: Module; leaf: string } {
    const parts = path.split('.');
    let m: Module = this;
    for (const p of parts.slice(0, -1)) {
      const child = m.namedChildren().find(([n]) => n === p)?.[1];
      m = child ?? m.registerModule(p, new GraphScope());
    }
    return { parent: m, leaf: parts[parts.length - 1] };
  }

  private liveness(): string[][] {
    const last = new Map<string, number>();
    this.desc.nodes.forEach((n, i) => n.inputs.forEach((v) => last.set(v, i)));
    const keep = new Set([this.desc.input.name, this.desc.output, ...this.owned.keys(), ...this.ints.keys()]);
    const out: string[][] = this.desc.nodes.map(() => []);
    for (const [v, i] of last) if (!keep.has(v)) out[i].push(v);
    return out;
  }

  private value(env: Map<string, Value>, name: string, n: GraphNode): Value | undefined {
    if (name === '') return undefined;
    const v = env.get(name) ?? this.ints.get(name);
    if (v !== undefined) return v;
    const o = this.owned.get(name);
    if (o) return (o[0] as unknown as Record<string, Tensor>)[o[1]];
    throw new Error(`graph: node '${n.name}' reads '${name}', which no earlier node computes`);
  }

  override forward(x: Tensor): Tensor {
    const want = this.desc.input.shape;
    if (x.ndim !== want.length + 1 || want.some((d, i) => x.size(i + 1) !== d)) {
      throw new Error(`graph: expected input [N, ${want.join(', ')}], got [${x.shape.join(', ')}]`);
    }
    const env = new Map<string, Value>([[this.desc.input.name, x]]);
    this.desc.nodes.forEach((n, i) => {
      const inputs = n.inputs.map((v) => this.value(env, v, n));
      const outs = n.module ? [this.getSubmodule(n.module).call(inputs[0] as Tensor)] : runOp(n, inputs);
      n.outputs.forEach((o, j) => { if (o !== '' && outs[j] !== undefined) env.set(o, outs[j]); });
      // Intermediate results are freed as soon as no later node reads them (autograd keeps what it needs).
      for (const v of this.lastUse[i]) {
        const t = env.get(v);
        env.delete(v);
        // A module may return its input (an Identity standing where a BatchNorm was folded): the
        // tensor then lives on under its new name.
        if (t instanceof Tensor && t !== x && ![...env.values()].includes(t)) t.dispose();
      }
    });
    const y = env.get(this.desc.output);
    if (!(y instanceof Tensor)) throw new Error(`graph: the output '${this.desc.output}' is not a float tensor`);
    for (const v of new Set(env.values())) if (v instanceof Tensor && v !== y && v !== x) v.dispose();
    return y;
  }

  override extraRepr(): string {
    return `${this.desc.nodes.length} nodes, input [N, ${this.desc.input.shape.join(', ')}], opset ${this.desc.opset}`;
  }
}

// Shape arithmetic and data movement: no arithmetic on activations worth quantizing.
const PLUMBING = new Set(['Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Reshape', 'Transpose', 'Flatten', 'Slice', 'Split', 'Expand',
  'Cast', 'ConstantOfShape', 'Equal', 'Where', 'Identity', 'Dropout']);

/**
 * Why the graph's weightless nodes stay FP, one line per reason: quantize() quantizes the inputs
 * and weights of the layer modules only; an activation × activation MatMul (attention scores and
 * their product with V) and Softmax outputs have no quantizer (not supported yet).
 */
export function graphFpNodes(desc: GraphDesc): string[] {
  const count = (ops: string[]): string => {
    const c = new Map<string, number>();
    for (const op of ops) c.set(op, (c.get(op) ?? 0) + 1);
    return [...c].map(([op, k]) => `${k} ${op}`).join(', ');
  };
  // Shape arithmetic (integers: sizes, indices) is no activation: follow the integer values.
  const ints = new Set(Object.entries(desc.constants).filter(([, c]) => c.dtype === 'int64').map(([v]) => v));
  for (const n of desc.nodes) {
    const fromInts = n.inputs.filter(Boolean).every((v) => ints.has(v));
    const intOut = n.op === 'Shape' || (n.op === 'ConstantOfShape' && n.attrs.value_dtype === 'int64') || (!n.module && fromInts && !(n.op === 'Cast' && [1, 10, 11].includes(n.attrs.to as number)));
    if (intOut) for (const o of n.outputs) ints.add(o);
  }
  const free = desc.nodes.filter((n) => !n.module && !PLUMBING.has(n.op) && !n.outputs.every((o) => ints.has(o)));
  const matmul = free.filter((n) => n.op === 'MatMul' || n.op === 'Softmax').map((n) => n.op);
  const rest = free.filter((n) => n.op !== 'MatMul' && n.op !== 'Softmax').map((n) => n.op);
  const lines: string[] = [];
  if (matmul.length) lines.push(`graph nodes kept FP (activation × activation MatMul and Softmax output: quantizing them is not supported yet): ${count(matmul)}`);
  if (rest.length) lines.push(`graph nodes kept FP (no weights; their outputs feed the next layer's input quantizer): ${count(rest)}`);
  return lines;
}
