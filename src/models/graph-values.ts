// The two kinds of value an imported graph computes with. Float data are libtorch Tensors. Shape
// arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape chains, the int64 constants PyTorch
// writes for view(), expand(), chunk()) is a few small integers, so it runs as JS arrays: no
// tensor op, no autograd, and the batch dimension stays dynamic (a chain is re-evaluated on the
// input's real shape instead of being folded with the batch size of the export).
import { Tensor } from '../engine';

export class IntVal {
  constructor(readonly dims: number[], readonly data: number[], readonly bool = false) {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`IntVal: ${data.length} values for dims [${dims.join(', ')}]`);
  }
  static scalar(v: number): IntVal { return new IntVal([], [v]); }
  static vector(v: number[]): IntVal { return new IntVal([v.length], v); }
  get rank(): number { return this.dims.length; }
}

export type Value = Tensor | IntVal;

export const isInt = (v: Value | undefined): v is IntVal => v instanceof IntVal;

/** The integers of a value (an IntVal, or an integer tensor). */
export function ints(v: Value | undefined, what: string): number[] {
  if (v === undefined) throw new Error(`${what}: missing input`);
  if (v instanceof IntVal) return v.data;
  if (v.dtype === 'int64' || v.dtype === 'int32') return v.toArray();
  throw new Error(`${what}: expected constant integers, got a ${v.dtype} tensor [${v.shape.join(', ')}]`);
}

/** A value as a tensor; integers become float32 unless `dtype` says otherwise (they meet float data). */
export function tensorOf(v: Value, dtype: 'float32' | 'int64' | 'bool' = 'float32'): Tensor {
  if (v instanceof Tensor) return v;
  return Tensor.from(v.data, v.dims, v.bool && dtype === 'float32' ? 'bool' : dtype);
}

/** NumPy broadcasting of two shapes (ONNX's multidirectional broadcasting). */
export function broadcastShape(a: number[], b: number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${what}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Elementwise op on two IntVals with broadcasting (shape values are at most 1-D in practice). */
export function intBinary(a: IntVal, b: IntVal, f: (x: number, y: number) => number, what: string, bool = false): IntVal {
  const dims = broadcastShape(a.dims, b.dims, what);
  if (dims.length > 1) throw new Error(`${what}: integer values of rank > 1 are not supported`);
  const n = dims.length ? dims[0] : 1;
  const at = (v: IntVal, i: number): number => v.data[v.data.length === 1 ? 0 : i];
  return new IntVal(dims, Array.from({ length: n }, (_, i) => f(at(a, i), at(b, i))), bool);
}

/** Normalises a possibly negative axis against a rank. */
export function axis(a: number, rank: number, what: string): number {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= rank) throw new Error(`${what}: axis ${a} is out of range for rank ${rank}`);
  return r;
}
