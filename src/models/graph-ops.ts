// The ONNX operators an imported graph runs that own no weights, one function each, with
// ONNX's semantics (opset 13+) on libtorch tensors, or on JS integers for shape arithmetic
// (graph-values.ts). The layers with weights (Conv, Gemm/MatMul with a constant weight,
// BatchNormalization, LayerNormalization) run as child modules of the graph (graph.ts), so
// quantize() finds and wraps them like any model's layers.
import { Tensor, F } from '../engine';
import { AttrValue, GraphNode } from './graph-desc';
import { IntVal, Value, isInt, ints, tensorOf, intBinary, broadcastShape, axis } from './graph-values';

type Attrs = Record<string, AttrValue>;
type OpFn = (x: (Value | undefined)[], a: Attrs, what: string) => Value[];

const num = (a: Attrs, k: string, d: number): number => (typeof a[k] === 'number' ? (a[k] as number) : d);
const list = (a: Attrs, k: string): number[] | undefined => (Array.isArray(a[k]) ? (a[k] as number[]) : undefined);
const T = (v: Value | undefined, what: string): Tensor => {
  if (v === undefined) throw new Error(`${what}: missing input`);
  return tensorOf(v);
};
const shapeOf = (v: Value): number[] => (isInt(v) ? v.dims : v.shape);
/** A scalar bound (Clip's min/max) as a number. */
const scalar = (v: Value | undefined): number | null => (v === undefined ? null : isInt(v) ? v.data[0] : v.item());

// Integer division as ONNX defines it for ints (truncation), others as JS.
const INT_OPS: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => Math.trunc(x / y),
};

function binary(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow'): OpFn {
  return ([a, b], _attrs, what) => {
    if (a === undefined || b === undefined) throw new Error(`${what}: missing input`);
    if (isInt(a) && isInt(b) && op !== 'Pow') return [intBinary(a, b, INT_OPS[op], what)];
    const x = tensorOf(a), y = tensorOf(b);
    switch (op) {
      case 'Add': return [x.add(y)];
      case 'Sub': return [x.sub(y)];
      case 'Mul': return [x.mul(y)];
      case 'Div': return [x.div(y)];
      default: return [x.pow(y)];
    }
  };
}

const unary = (f: (x: Tensor) => Tensor): OpFn => ([x], _a, what) => [f(T(x, what))];

/** Reshape's target: 0 copies the input's dimension (allowzero 0), -1 is inferred. */
function reshapeTarget(input: number[], target: number[], allowZero: boolean): number[] {
  return target.map((d, i) => (d === 0 && !allowZero ? input[i] : d));
}

function reshapeInt(v: IntVal, target: number[]): IntVal {
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const dims = target.map((d) => (d === -1 ? v.data.length / known : d));
  return new IntVal(dims, v.data, v.bool);
}

function sliceRange(start: number, end: number, dim: number): [number, number] {
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
  return [clamp(start), clamp(end)];
}

const slice: OpFn = ([data, starts, ends, axesV, stepsV], _a, what) => {
  if (data === undefined) throw new Error(`${what}: missing input`);
  const s = ints(starts, what), e = ints(ends, what);
  const rank = shapeOf(data).length;
  const ax = axesV ? ints(axesV, what).map((v) => axis(v, rank, what)) : s.map((_, i) => i);
  const st = stepsV ? ints(stepsV, what) : s.map(() => 1);
  if (st.some((v) => v <= 0)) throw new Error(`${what}: Slice with a negative or zero step is not supported`);
  if (isInt(data)) {
    if (data.rank !== 1) throw new Error(`${what}: slicing integer values of rank ${data.rank} is not supported`);
    const [b, f] = sliceRange(s[0], e[0], data.data.length);
    const out: number[] = [];
    for (let i = b; i < f; i += st[0]) out.push(data.data[i]);
    return [IntVal.vector(out)];
  }
  let y = data;
  ax.forEach((d, i) => {
    const [b, f] = sliceRange(s[i], e[i], y.size(d));
    y = y.slice(d, b, Math.max(b, f), st[i]);
  });
  return [y === data ? data.reshape(data.shape) : y];
};

const gather: OpFn = ([data, index], a, what) => {
  if (data === undefined || index === undefined) throw new Error(`${what}: missing input`);
  const idx = ints(index, what);
  const iDims = isInt(index) ? index.dims : index.shape;
  const rank = shapeOf(data).length;
  const d = axis(num(a, 'axis', 0), rank, what);
  const n = shapeOf(data)[d];
  const norm = idx.map((i) => (i < 0 ? i + n : i));
  if (norm.some((i) => i < 0 || i >= n)) throw new Error(`${what}: Gather index out of range [${idx.join(', ')}] for size ${n}`);
  if (isInt(data)) {
    if (data.rank !== 1) throw new Error(`${what}: gathering from integer values of rank ${data.rank} is not supported`);
    return [new IntVal(iDims, norm.map((i) => data.data[i]))];
  }
  if (iDims.length === 0) return [data.select(d, norm[0])];
  const flat = data.indexSelect(d, Tensor.from(norm, [norm.length], 'int64'));
  return [flat.reshape([...data.shape.slice(0, d), ...iDims, ...data.shape.slice(d + 1)])];
};

function unsqueeze(v: Value, axes: number[], what: string): Value {
  const rank = shapeOf(v).length + axes.length;
  const norm = axes.map((x) => axis(x, rank, what)).sort((p, q) => p - q);
  if (isInt(v)) {
    const dims = [...v.dims];
    for (const x of norm) dims.splice(x, 0, 1);
    return new IntVal(dims, v.data, v.bool);
  }
  return norm.reduce((t: Tensor, x) => t.unsqueeze(x), v);
}

function squeeze(v: Value, axes: number[] | undefined, what: string): Value {
  const dims = shapeOf(v);
  const drop = axes ? axes.map((x) => axis(x, dims.length, what)) : dims.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const x of drop) if (dims[x] !== 1) throw new Error(`${what}: cannot squeeze dimension ${x} of size ${dims[x]}`);
  const out = dims.filter((_, i) => !drop.includes(i));
  return isInt(v) ? new IntVal(out, v.data, v.bool) : v.reshape(out);
}

const concat: OpFn = (xs, a, what) => {
  const vs = xs.filter((v): v is Value => v !== undefined);
  if (vs.every(isInt)) {
    if (vs.some((v) => (v as IntVal).rank > 1)) throw new Error(`${what}: concatenating integer values of rank > 1 is not supported`);
    return [IntVal.vector(vs.flatMap((v) => (v as IntVal).data))];
  }
  const ts = vs.map((v) => tensorOf(v));
  return [F.cat(ts, axis(num(a, 'axis', 0), ts[0].ndim, what))];
};

const split: OpFn = ([x, sizesV], a, what) => {
  const t = T(x, what);
  const d = axis(num(a, 'axis', 0), t.ndim, what);
  let sizes = sizesV ? ints(sizesV, what) : list(a, 'split');
  if (!sizes) {
    const n = num(a, 'num_outputs', num(a, 'outputs', 0));
    const each = Math.ceil(t.size(d) / n);
    sizes = Array.from({ length: n }, (_, i) => Math.min(each, t.size(d) - i * each));
  }
  let at = 0;
  return sizes.map((s) => { const y = t.narrow(d, at, s); at += s; return y; });
};

function pool2d(kind: 'max' | 'avg'): OpFn {
  return ([x], a, what) => {
    const t = T(x, what);
    const k = list(a, 'kernel_shape')!;
    const pads = list(a, 'pads') ?? [0, 0, 0, 0];
    const o = { stride: (list(a, 'strides') ?? [1, 1]) as [number, number], padding: [pads[0], pads[1]] as [number, number], ceilMode: num(a, 'ceil_mode', 0) === 1 };
    if (kind === 'max') return [F.maxPool2d(t, k as [number, number], { ...o, dilation: (list(a, 'dilations') ?? [1, 1]) as [number, number] })];
    return [F.avgPool2d(t, k as [number, number], { ...o, countIncludePad: num(a, 'count_include_pad', 0) === 1 })];
  };
}

function expand(v: Value, shape: number[], what: string): Value {
  if (isInt(v)) {
    if (v.data.length !== 1 || shape.length > 1) throw new Error(`${what}: expanding integer values is only supported from a scalar to a vector`);
    return IntVal.vector(new Array<number>(shape[0] ?? 1).fill(v.data[0]));
  }
  return v.expand(broadcastShape(v.shape, shape, what));
}

/** The ops by ONNX name (Identity and Dropout are removed at import but run here too). */
export const OPS: Record<string, OpFn> = {
  Add: binary('Add'), Sub: binary('Sub'), Mul: binary('Mul'), Div: binary('Div'), Pow: binary('Pow'),
  Sqrt: unary((x) => x.sqrt()), Erf: unary(F.erf), Relu: unary((x) => x.relu()), Sigmoid: unary((x) => x.sigmoid()),
  Tanh: unary((x) => x.tanh()), Neg: unary((x) => x.neg()), Exp: unary((x) => x.exp()), Log: unary((x) => x.log()),
  Abs: unary((x) => x.abs()), Reciprocal: unary((x) => x.reciprocal()),
  Identity: ([x], _a, what) => [isInt(x) ? x : T(x, what).reshape(T(x, what).shape)],
  Dropout: ([x], _a, what) => [T(x, what).reshape(T(x, what).shape)],
  Clip: ([x, lo, hi], _a, what) => {
    const l = scalar(lo), h = scalar(hi);
    return [l === null && h === null ? T(x, what).reshape(T(x, what).shape) : T(x, what).clamp(l, h)];
  },
  HardSigmoid: ([x], a, what) => [T(x, what).mul(num(a, 'alpha', 0.2)).add(num(a, 'beta', 0.5)).clamp(0, 1)],
  HardSwish: ([x], _a, what) => { const t = T(x, what); return [t.mul(t.add(3).clamp(0, 6)).div(6)]; },
  Gelu: ([x], a, what) => [F.gelu(T(x, what), a.approximate === 'tanh')],
  Softmax: ([x], a, what) => { const t = T(x, what); return [F.softmax(t, axis(num(a, 'axis', -1), t.ndim, what))]; },
  LogSoftmax: ([x], a, what) => { const t = T(x, what); return [F.logSoftmax(t, axis(num(a, 'axis', -1), t.ndim, what))]; },
  ReduceMean: ([x, axesV], a, what) => {
    const t = T(x, what);
    const ax = axesV ? ints(axesV, what) : list(a, 'axes') ?? t.shape.map((_, i) => i);
    return [t.mean(ax.map((v) => axis(v, t.ndim, what)), num(a, 'keepdims', 1) === 1)];
  },
  ReduceSum: ([x, axesV], a, what) => {
    const t = T(x, what);
    const ax = axesV ? ints(axesV, what) : list(a, 'axes') ?? t.shape.map((_, i) => i);
    return [t.sum(ax.map((v) => axis(v, t.ndim, what)), num(a, 'keepdims', 1) === 1)];
  },
  MatMul: ([x, y], _a, what) => [T(x, what).matmul(T(y, what))],
  MaxPool: pool2d('max'), AveragePool: pool2d('avg'),
  GlobalAveragePool: ([x], _a, what) => [T(x, what).mean([2, 3], true)],
  GlobalMaxPool: ([x], _a, what) => [T(x, what).amax([2, 3], true)],
  Flatten: ([x], a, what) => {
    const t = T(x, what);
    const k = num(a, 'axis', 1) < 0 ? num(a, 'axis', 1) + t.ndim : num(a, 'axis', 1);
    return [t.reshape([t.shape.slice(0, k).reduce((p, q) => p * q, 1), -1])];
  },
  Reshape: ([x, s], a, what) => {
    if (x === undefined) throw new Error(`${what}: missing input`);
    const target = reshapeTarget(shapeOf(x), ints(s, what), num(a, 'allowzero', 0) === 1);
    return [isInt(x) ? reshapeInt(x, target) : x.reshape(target)];
  },
  Transpose: ([x], a, what) => {
    const t = T(x, what);
    return [t.permute(list(a, 'perm') ?? t.shape.map((_, i) => t.ndim - 1 - i))];
  },
  Concat: concat, Split: split, Slice: slice, Gather: gather,
  Unsqueeze: ([x, axesV], a, what) => [unsqueeze(x!, axesV ? ints(axesV, what) : list(a, 'axes')!, what)],
  Squeeze: ([x, axesV], a, what) => [squeeze(x!, axesV ? ints(axesV, what) : list(a, 'axes'), what)],
  Expand: ([x, s], _a, what) => [expand(x!, ints(s, what), what)],
  Shape: ([x], a) => {
    const dims = shapeOf(x!);
    const start = num(a, 'start', 0), end = num(a, 'end', dims.length);
    return [IntVal.vector(dims.slice(start < 0 ? start + dims.length : start, end < 0 ? end + dims.length : end))];
  },
  Cast: ([x], a, what) => {
    const to = num(a, 'to', 1);
    if (to === 1 || to === 10 || to === 11) return [isInt(x) ? tensorOf(x) : T(x, what).float()];
    if (isInt(x)) return [to === 9 ? new IntVal(x.dims, x.data.map((v) => (v ? 1 : 0)), true) : new IntVal(x.dims, x.data)];
    return [T(x, what).to(to === 9 ? 'bool' : 'int64')];
  },
  ConstantOfShape: ([s], a, what) => {
    const dims = ints(s, what);
    const v = num(a, 'value', 0);
    const n = dims.reduce((p, q) => p * q, 1);
    if (a.value_dtype === 'int64' && n <= 4096) return [new IntVal(dims, new Array<number>(n).fill(v))];
    return [Tensor.full(dims, v, a.value_dtype === 'int64' ? 'int64' : 'float32')];
  },
  Equal: ([x, y], _a, what) => {
    if (isInt(x) && isInt(y)) return [intBinary(x, y, (p, q) => (p === q ? 1 : 0), what, true)];
    return [T(x, what).eq(T(y, what))];
  },
  Where: ([c, x, y], _a, what) => {
    if (isInt(c) && isInt(x) && isInt(y)) {
      const dims = broadcastShape(broadcastShape(c.dims, x.dims, what), y.dims, what);
      const n = dims.reduce((p, q) => p * q, 1);
      const at = (v: IntVal, i: number): number => v.data[v.data.length === 1 ? 0 : i];
      return [new IntVal(dims, Array.from({ length: n }, (_, i) => (at(c, i) ? at(x, i) : at(y, i))))];
    }
    return [F.where(tensorOf(c!, 'bool'), tensorOf(x!), tensorOf(y!))];
  },
  Max: (xs, _a, what) => [xs.map((v) => T(v, what)).reduce((p, q) => p.maximum(q))],
  Min: (xs, _a, what) => [xs.map((v) => T(v, what)).reduce((p, q) => p.minimum(q))],
};

/** The ONNX ops a graph may hold: the weightless ones above and the module-backed layers. */
export const MODULE_OPS: readonly string[] = ['Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'LayerNormalization'];
export const SUPPORTED_OPS: readonly string[] = [...new Set([...Object.keys(OPS), ...MODULE_OPS, 'Constant'])].sort();

/** Runs one weightless node. */
export function runOp(n: GraphNode, inputs: (Value | undefined)[]): Value[] {
  const f = Object.prototype.hasOwnProperty.call(OPS, n.op) ? OPS[n.op] : undefined;
  if (!f) throw new Error(`graph: node '${n.name}' has the unsupported operator ${n.op}`);
  return f(inputs, n.attrs, `${n.op} '${n.name}'`);
}
