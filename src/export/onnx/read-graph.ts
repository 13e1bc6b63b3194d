// An ONNX file → its graph as plain data (nodes with decoded attributes, initializer and Constant
// tensors, the one input and output), refusing in one line what gdnsq cannot train: several
// inputs or outputs, an input whose non-batch dimensions are not fixed, external tensor data, an
// opset outside the range below, attributes holding subgraphs (If, Loop).
import { AttrValue } from '../../models/graph-desc';
import { OnnxFile, readOnnx } from './read';

/** The default-domain opsets the importer reads (PyTorch's exporter writes 13–17 by default). */
export const IMPORT_MIN_OPSET = 13;
export const IMPORT_MAX_OPSET = 21;

export interface RawTensor { dtype: 'float32' | 'int64'; dims: number[]; data: Float32Array | number[] }
export interface RawNode { op: string; domain: string; name: string; inputs: string[]; outputs: string[]; attrs: Record<string, AttrValue>; floatAttrs: string[] }
export interface RawGraph {
  file: string;
  opset: number;
  input: { name: string; shape: number[] };
  output: string;
  nodes: RawNode[];
  /** Initializers and the outputs of Constant nodes (which are dropped from `nodes`). */
  tensors: Map<string, RawTensor>;
  /** Names that came from initializers (the rest came from Constant nodes). */
  initializers: Set<string>;
}

// TensorProto.DataType → how to read it.
const FLOAT_TYPES: Record<number, string> = { 1: 'float', 11: 'double', 10: 'float16' };
const INT_TYPES: Record<number, string> = { 7: 'int64', 6: 'int32', 9: 'bool', 2: 'uint8', 3: 'int8', 5: 'int16', 4: 'uint16', 12: 'uint32', 13: 'uint64' };

interface TensorMsg {
  name: string; data_type: number; dims: number[]; raw_data: Uint8Array; float_data: number[]; int32_data: number[]; int64_data: number[];
  double_data: number[]; data_location: number; external_data: unknown[];
}
interface AttrMsg { name: string; type: number; f: number; i: number; s: Uint8Array; t?: TensorMsg; floats: number[]; ints: number[]; strings: Uint8Array[]; g?: unknown; graphs?: unknown[] }

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** A TensorProto's values: floats as float32, integers and bools as JS numbers. */
export function tensorData(t: TensorMsg, where: string): RawTensor {
  if (t.data_location === 1 || (t.external_data && t.external_data.length)) {
    throw new Error(`${where}: tensor '${t.name}' is stored in an external data file, which gdnsq does not read (save the model with all tensors inside: onnx.save_model(m, f, save_as_external_data=False))`);
  }
  const dims = t.dims.map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const raw = t.raw_data && t.raw_data.length ? t.raw_data : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const kind = FLOAT_TYPES[t.data_type] ?? INT_TYPES[t.data_type];
  if (!kind) throw new Error(`${where}: tensor '${t.name}' has data type ${t.data_type}, which gdnsq does not read`);
  const read = (i: number): number => {
    if (!view) {
      if (kind === 'float') return t.float_data[i];
      if (kind === 'double') return t.double_data[i];
      if (kind === 'int64' || kind === 'uint64') return Number(t.int64_data[i]);
      if (kind === 'float16') return half(t.int32_data[i]);
      return Number(t.int32_data[i]);
    }
    switch (kind) {
      case 'float': return view.getFloat32(4 * i, true);
      case 'double': return view.getFloat64(8 * i, true);
      case 'float16': return half(view.getUint16(2 * i, true));
      case 'int64': return Number(view.getBigInt64(8 * i, true));
      case 'uint64': return Number(view.getBigUint64(8 * i, true));
      case 'int32': return view.getInt32(4 * i, true);
      case 'uint32': return view.getUint32(4 * i, true);
      case 'int16': return view.getInt16(2 * i, true);
      case 'uint16': return view.getUint16(2 * i, true);
      case 'int8': return view.getInt8(i);
      default: return view.getUint8(i);
    }
  };
  const have = view ? raw!.byteLength : kind === 'float' ? t.float_data.length : kind === 'double' ? t.double_data.length : kind.includes('64') ? t.int64_data.length : t.int32_data.length;
  const bytes = { float: 4, double: 8, float16: 2, int64: 8, uint64: 8, int32: 4, uint32: 4, int16: 2, uint16: 2, int8: 1, uint8: 1, bool: 1 }[kind]!;
  if ((view ? have / bytes : have) < n) throw new Error(`${where}: tensor '${t.name}' holds fewer values than its dims [${dims.join(', ')}] (truncated file?)`);
  if (FLOAT_TYPES[t.data_type]) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = read(i);
    return { dtype: 'float32', dims, data };
  }
  return { dtype: 'int64', dims, data: Array.from({ length: n }, (_, i) => read(i)) };
}

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function attrs(n: { name: string; op_type: string; attribute: AttrMsg[] }, where: string): { attrs: Record<string, AttrValue>; tensor?: RawTensor } {
  const out: Record<string, AttrValue> = {};
  let tensor: RawTensor | undefined;
  for (const a of n.attribute) {
    switch (a.type) {
      case 1: out[a.name] = a.f; break;
      case 2: out[a.name] = Number(a.i); break;
      case 3: out[a.name] = text(a.s); break;
      case 6: out[a.name] = [...a.floats]; break;
      case 7: out[a.name] = a.ints.map(Number); break;
      case 4: {
        tensor = tensorData(a.t!, where);
        // ConstantOfShape's fill value: a one-element tensor, kept as a number and its type.
        if (n.op_type === 'ConstantOfShape') { out.value = tensor.data[0]; out.value_dtype = tensor.dtype; }
        break;
      }
      case 5: case 10: throw new Error(`${where}: node '${n.name}' (${n.op_type}) holds a subgraph (control flow), which gdnsq does not import`);
      default: throw new Error(`${where}: node '${n.name}' (${n.op_type}) has attribute '${a.name}' of a type gdnsq does not read (${a.type})`);
    }
  }
  return { attrs: out, tensor };
}

/** The value of a Constant node (value, value_float(s), value_int(s)). */
function constantValue(a: Record<string, AttrValue>, tensor: RawTensor | undefined, where: string, name: string): RawTensor {
  if (tensor) return tensor;
  if (typeof a.value_float === 'number') return { dtype: 'float32', dims: [], data: Float32Array.of(a.value_float) };
  if (Array.isArray(a.value_floats)) return { dtype: 'float32', dims: [a.value_floats.length], data: Float32Array.from(a.value_floats) };
  if (typeof a.value_int === 'number') return { dtype: 'int64', dims: [], data: [a.value_int] };
  if (Array.isArray(a.value_ints)) return { dtype: 'int64', dims: [a.value_ints.length], data: [...a.value_ints] };
  throw new Error(`${where}: Constant node '${name}' has no value gdnsq reads (value, value_float(s), value_int(s))`);
}

export function graphFromOnnx(f: OnnxFile, where: string): RawGraph {
  if (f.opset < IMPORT_MIN_OPSET || f.opset > IMPORT_MAX_OPSET) {
    throw new Error(`${where}: opset ${f.opset} is outside the range gdnsq imports (${IMPORT_MIN_OPSET}..${IMPORT_MAX_OPSET}; re-export with torch.onnx.export(..., opset_version=17))`);
  }
  const g = f.model.graph as unknown as {
    node: { name: string; op_type: string; domain: string; input: string[]; output: string[]; attribute: AttrMsg[] }[];
    initializer: TensorMsg[]; input: { name: string; type?: { tensor_type?: { elem_type: number; shape?: { dim: { dim_value?: number; dim_param?: string }[] } } } }[]; output: { name: string }[];
  };
  const tensors = new Map<string, RawTensor>();
  for (const t of g.initializer) tensors.set(t.name, tensorData(t, where));
  const initializers = new Set(tensors.keys());
  // Older exporters list the initializers among the inputs too.
  const inputs = g.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1 || g.output.length !== 1) {
    throw new Error(`${where}: the graph has ${inputs.length} input${inputs.length === 1 ? '' : 's'} and ${g.output.length} output${g.output.length === 1 ? '' : 's'}; gdnsq imports a model with one input (images) and one output (logits)`);
  }
  const inp = inputs[0];
  const tt = inp.type?.tensor_type;
  if (!tt || tt.elem_type !== 1) throw new Error(`${where}: input '${inp.name}' is not a float32 tensor`);
  const dims = tt.shape?.dim ?? [];
  if (dims.length < 2) throw new Error(`${where}: input '${inp.name}' has no shape [batch, ...] (export with an example input so the shape is recorded)`);
  const shape = dims.slice(1).map((d, i) => {
    const v = Number(d.dim_value ?? 0);
    if (!(v > 0)) throw new Error(`${where}: input '${inp.name}' has a dynamic dimension ${i + 1} ('${d.dim_param || '?'}'); gdnsq needs a static shape except the batch (export with dynamic_axes on the batch only)`);
    return v;
  });
  const nodes: RawNode[] = [];
  g.node.forEach((n, k) => {
    const name = n.name || `${n.op_type}_${k}`;
    const { attrs: a, tensor } = attrs({ ...n, name }, where);
    const domain = n.domain === 'ai.onnx' ? '' : n.domain ?? '';
    if (n.op_type === 'Constant' && !domain) {
      tensors.set(n.output[0], constantValue(a, tensor, where, name));
      return;
    }
    const floatAttrs = n.attribute.filter((x) => x.type === 1 || x.type === 6).map((x) => x.name);
    nodes.push({ op: n.op_type, domain, name, inputs: [...n.input], outputs: [...n.output], attrs: a, floatAttrs });
  });
  return { file: where, opset: f.opset, input: { name: inp.name, shape }, output: g.output[0].name, nodes, tensors, initializers };
}

export function readOnnxGraph(file: string): RawGraph {
  return graphFromOnnx(readOnnx(file), file);
}
