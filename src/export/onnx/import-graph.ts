// A read ONNX graph (read-graph.ts) → the description a GraphModel is built from, plus its state
// dict as plain arrays. What happens here, in order:
// - Identity and Dropout (inference) become aliases; Constant nodes became constants when read.
// - Conv, Gemm and MatMul with a constant weight (with the Add of its bias when that is the only
//   reader: PyTorch writes nn.Linear on 3-D input so), BatchNormalization and LayerNormalization
//   become layer modules; Gemm's alpha and beta are folded into weight and bias.
// - The module's path is PyTorch's name when the file carries it (initializer `fc.weight` →
//   module `fc`), else the node's scope (`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1.Conv`).
// - The remaining float initializers belong to the model: parameters (positional tensors, class
//   tokens, a decomposed LayerNorm's affine tensors), or buffers when only Sub/Div read them
//   (a normalization inside the graph); integer tensors and small Constant floats are constants.
import { GraphDesc, GraphNode, GraphConst, ModuleSpec, AttrValue, GRAPH_FORMAT } from '../../models/graph-desc';
import { OPS, SUPPORTED_OPS } from '../../models/graph-ops';
import { RawGraph, RawNode, RawTensor } from './read-graph';

export interface ImportedGraph { desc: GraphDesc; state: Record<string, RawTensor> }

/** Float Constant nodes up to this size stay in the JSON description; larger ones go to the state dict. */
const INLINE_FLOATS = 64;

const seg = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_').replace(/^_+|_+$/g, '') || 'x';
const count = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

class Names {
  private readonly leaves = new Set<string>();
  private readonly scopes = new Set<string>();

  /** Takes `path` (or path_1, ...) so that no leaf is another's scope. */
  claim(path: string): string {
    let p = path, k = 0;
    while (!this.free(p)) p = `${path}_${++k}`;
    this.leaves.add(p);
    const parts = p.split('.');
    for (let i = 1; i < parts.length; i++) this.scopes.add(parts.slice(0, i).join('.'));
    return p;
  }

  private free(p: string): boolean {
    if (this.leaves.has(p) || this.scopes.has(p)) return false;
    const parts = p.split('.');
    for (let i = 1; i < parts.length; i++) if (this.leaves.has(parts.slice(0, i).join('.'))) return false;
    return true;
  }
}

/** A PyTorch-style dotted name from an initializer name ('layer1.0.conv1.weight' → 'layer1.0.conv1'). */
function torchPath(init: string | undefined, suffix: string): string | null {
  if (!init || !init.endsWith(suffix)) return null;
  const p = init.slice(0, -suffix.length);
  return /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(p) ? p : null;
}

/** The node's scope as a dotted path: '/encoder/layers.0/self_attn/MatMul' → 'encoder.layers.0.self_attn.MatMul'. */
function scopePath(n: RawNode, k: number): string {
  const parts = n.name.split('/').filter(Boolean);
  if (parts.length < 2) return seg(n.name || `${n.op}_${k}`);
  const out: string[] = [];
  for (const p of parts.slice(0, -1)) {
    // PyTorch repeats the parent in a child's scope ('layer1/layer1.0'): keep the last part.
    const prev = out.length ? out.join('.') : '';
    const rel = prev && p.startsWith(`${prev}.`) ? p.slice(prev.length + 1) : prev && p.startsWith(`${out[out.length - 1]}.`) ? p.slice(out[out.length - 1].length + 1) : p;
    out.push(...rel.split('.').map(seg));
  }
  out.push(seg(parts[parts.length - 1]));
  return out.join('.');
}

function transpose2d(t: RawTensor): Float32Array {
  const [r, c] = t.dims;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = (t.data as Float32Array)[i * c + j];
  return out;
}

const pair = (v: AttrValue | undefined, d: number): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [d, d]);

export function importGraph(g: RawGraph): ImportedGraph {
  const where = g.file;
  const fail = (n: RawNode, why: string): never => { throw new Error(`${where}: node '${n.name}' (${n.op}): ${why}`); };
  // Aliases: Identity and Dropout pass their input on.
  const alias = new Map<string, string>();
  const resolve = (v: string): string => { let x = v; while (alias.has(x)) x = alias.get(x)!; return x; };
  let nodes: RawNode[] = [];
  for (const n of g.nodes) {
    if (!n.domain && (n.op === 'Identity' || n.op === 'Dropout')) { alias.set(n.outputs[0], resolve(n.inputs[0])); continue; }
    nodes.push({ ...n, inputs: n.inputs.map((v) => (v ? resolve(v) : v)) });
  }
  const output = resolve(g.output);
  for (const n of nodes) {
    const op = n.domain ? `${n.domain}:${n.op}` : n.op;
    if (n.domain || !SUPPORTED_OPS.includes(n.op)) {
      throw new Error(`${where}: unsupported operator ${op} (node '${n.name}'); supported: ${SUPPORTED_OPS.join(', ')}`);
    }
  }
  const readers = new Map<string, RawNode[]>();
  for (const n of nodes) for (const v of n.inputs) if (v) readers.set(v, [...(readers.get(v) ?? []), n]);
  const floatConst = (v: string | undefined): RawTensor | undefined => {
    const t = v ? g.tensors.get(v) : undefined;
    return t && t.dtype === 'float32' ? t : undefined;
  };

  const names = new Names();
  const modules: Record<string, ModuleSpec> = {};
  const state: Record<string, RawTensor> = {};
  const out: GraphNode[] = [];
  const removed = new Set<RawNode>();
  const used = new Set<string>();
  const layer = (n: RawNode, k: number, path: string | null, spec: ModuleSpec, tensors: Record<string, RawTensor | undefined>, op: string, outputs = n.outputs): void => {
    const p = names.claim(path ?? scopePath(n, k));
    modules[p] = spec;
    for (const [name, t] of Object.entries(tensors)) if (t) state[`${p}.${name}`] = t;
    out.push({ op, name: n.name, inputs: [n.inputs[0]], outputs: outputs.slice(0, 1), attrs: {}, module: p });
  };

  nodes.forEach((n, k) => {
    if (removed.has(n)) return;
    const [x, wName, bName] = n.inputs;
    const w = floatConst(wName), b = floatConst(bName);
    if (n.op === 'Conv') {
      if (!w) fail(n, 'the weight is not a constant (only convolutions with stored weights are imported)');
      if (w!.dims.length !== 4) fail(n, `only 2-D convolutions are imported (weight [${w!.dims.join(', ')}])`);
      const ap = n.attrs.auto_pad;
      if (ap && ap !== 'NOTSET' && ap !== 'VALID') fail(n, `auto_pad ${String(ap)} is not supported (export with explicit pads)`);
      const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
      if (pads[0] !== pads[2] || pads[1] !== pads[3]) fail(n, `asymmetric pads [${pads.join(', ')}] are not supported`);
      const groups = (n.attrs.group as number | undefined) ?? 1;
      const [o, ig, kh, kw] = w!.dims;
      layer(n, k, torchPath(wName, '.weight'), {
        type: 'Conv2d', inChannels: ig * groups, outChannels: o, kernel: [kh, kw], stride: pair(n.attrs.strides, 1),
        padding: [pads[0], pads[1]], dilation: pair(n.attrs.dilations, 1), groups, bias: !!b,
      }, { weight: w, bias: b }, 'Conv');
      return;
    }
    if (n.op === 'Gemm' && w) {
      if (n.attrs.transA) fail(n, 'transA = 1 is not supported');
      if (w.dims.length !== 2) fail(n, 'the weight is not 2-D');
      const alpha = (n.attrs.alpha as number | undefined) ?? 1, beta = (n.attrs.beta as number | undefined) ?? 1;
      const wt = n.attrs.transB ? Float32Array.from(w.data as Float32Array) : transpose2d(w);
      const [outF, inF] = n.attrs.transB ? w.dims : [w.dims[1], w.dims[0]];
      if (alpha !== 1) wt.forEach((v, i) => { wt[i] = v * alpha; });
      let bias: RawTensor | undefined;
      if (b) {
        if (count(b.dims) !== outF && count(b.dims) !== 1) fail(n, `the bias C [${b.dims.join(', ')}] is not [${outF}] (a per-row C is not supported)`);
        bias = { dtype: 'float32', dims: [outF], data: Float32Array.from({ length: outF }, (_, i) => beta * (b.data as Float32Array)[count(b.dims) === 1 ? 0 : i]) };
      } else if (bName) fail(n, 'the bias C is not a constant');
      layer(n, k, torchPath(wName, '.weight'), { type: 'Linear', inFeatures: inF, outFeatures: outF, bias: !!bias, from: 'Gemm' },
        { weight: { dtype: 'float32', dims: [outF, inF], data: wt }, bias }, 'Linear');
      return;
    }
    if (n.op === 'Gemm') fail(n, 'Gemm of two activations is not supported (B must be a stored weight)');
    if (n.op === 'MatMul' && w && w.dims.length === 2 && !floatConst(x)) {
      const [inF, outF] = w.dims;
      // The bias Add PyTorch writes after the MatMul of nn.Linear on [N, T, D] input.
      const rs = readers.get(n.outputs[0]) ?? [];
      const add = rs.length === 1 && rs[0].op === 'Add' && n.outputs[0] !== output ? rs[0] : undefined;
      const other = add ? add.inputs.find((v) => v !== n.outputs[0]) : undefined;
      const bias = other ? floatConst(other) : undefined;
      const fuse = add && bias && count(bias.dims) === outF && bias.dims.length === 1;
      if (fuse) removed.add(add!);
      // nn.MultiheadAttention's packed projection: 'in_proj_bias' names the layer 'in_proj'.
      layer(n, k, torchPath(fuse ? other : undefined, '.bias') ?? torchPath(fuse ? other : undefined, '_bias') ?? torchPath(wName, '.weight'),
        { type: 'Linear', inFeatures: inF, outFeatures: outF, bias: !!fuse, from: 'MatMul' },
        { weight: { dtype: 'float32', dims: [outF, inF], data: transpose2d(w) }, bias: fuse ? bias : undefined }, 'Linear', fuse ? add!.outputs : n.outputs);
      return;
    }
    if (n.op === 'BatchNormalization') {
      const [scale, shift, mean, vr] = n.inputs.slice(1, 5).map(floatConst);
      if (!scale || !shift || !mean || !vr) fail(n, 'scale, bias, mean and variance must be constants');
      if (n.attrs.training_mode) fail(n, 'training_mode = 1 is not supported (export in eval mode)');
      if (n.outputs.slice(1).some((o) => o && readers.has(o))) fail(n, 'the running statistics outputs are read by the graph (export in eval mode)');
      layer(n, k, torchPath(n.inputs[1], '.weight'), {
        type: 'BatchNorm2d', numFeatures: count(scale!.dims), eps: (n.attrs.epsilon as number | undefined) ?? 1e-5,
        momentum: 1 - ((n.attrs.momentum as number | undefined) ?? 0.9),
      }, { weight: scale, bias: shift, running_mean: mean, running_var: vr }, 'BatchNormalization');
      return;
    }
    if (n.op === 'LayerNormalization') {
      if (!w) fail(n, 'the scale is not a constant');
      if (n.outputs.slice(1).some((o) => o && readers.has(o))) fail(n, 'the Mean and InvStdDev outputs are read by the graph');
      const ax = (n.attrs.axis as number | undefined) ?? -1;
      if (ax >= 0 || -ax !== w!.dims.length) fail(n, `axis ${ax} with scale [${w!.dims.join(', ')}]: only a normalization over the trailing dims of the scale's shape is supported`);
      layer(n, k, torchPath(wName, '.weight'), { type: 'LayerNorm', shape: w!.dims, eps: (n.attrs.epsilon as number | undefined) ?? 1e-5, weight: true, bias: !!b },
        { weight: w, bias: b }, 'LayerNormalization');
      return;
    }
    if ((n.op === 'MaxPool' || n.op === 'AveragePool')) {
      const ap = n.attrs.auto_pad;
      if (ap && ap !== 'NOTSET' && ap !== 'VALID') fail(n, `auto_pad ${String(ap)} is not supported`);
      const ks = n.attrs.kernel_shape as number[] | undefined;
      if (!ks || ks.length !== 2) fail(n, 'only 2-D pooling is supported');
      const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
      if (pads[0] !== pads[2] || pads[1] !== pads[3]) fail(n, `asymmetric pads [${pads.join(', ')}] are not supported`);
    }
    if (!Object.prototype.hasOwnProperty.call(OPS, n.op)) fail(n, 'not supported in this form');
    for (const v of n.inputs) if (v) used.add(v);
    out.push({ op: n.op, name: n.name, inputs: n.inputs, outputs: n.outputs, attrs: n.attrs, ...(n.floatAttrs.length ? { floatAttrs: n.floatAttrs } : {}) });
  });
  nodes = [];

  // What the remaining nodes read: constants, or tensors the model owns.
  const constants: Record<string, GraphConst> = {};
  const tensors: GraphDesc['tensors'] = {};
  for (const v of used) {
    const t = g.tensors.get(v);
    if (!t) continue;
    const small = !g.initializers.has(v) && count(t.dims) <= INLINE_FLOATS;
    if (t.dtype === 'int64' || small) {
      constants[v] = { dtype: t.dtype, dims: t.dims, data: Array.from(t.data) };
      continue;
    }
    const onlyNormalize = out.filter((n) => n.inputs.includes(v)).every((n) => n.op === 'Sub' || n.op === 'Div');
    const key = names.claim(torchPath(`${v}.`, '.') ?? seg(v));
    tensors[v] = { key, kind: onlyNormalize || !g.initializers.has(v) ? 'buffer' : 'parameter', dims: t.dims };
    state[key] = t;
  }
  const desc: GraphDesc = { format: GRAPH_FORMAT, opset: g.opset, input: g.input, output, nodes: out, constants, tensors, modules };
  return { desc, state };
}
