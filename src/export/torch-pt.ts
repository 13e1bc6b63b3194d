// PyTorch `.pt` state dicts (torch.save's zip format, PyTorch ≥ 1.6) read without running
// Python or pickled code: the zip (fflate) holds `<archive>/data.pkl`, a pickle of the state
// dict whose tensors refer by persistent id to raw little-endian storages `<archive>/data/<key>`.
// The pickle goes through the restricted unpickler (pickle.ts) with only the callables a state
// dict needs; tensors are rebuilt here from storage, offset, size and stride.
import * as fs from 'fs';
import { unzipSync } from 'fflate';
import { Tensor, DType, TypedArray } from '../engine';
import { halfToFloat, bfloatToFloat } from '../engine/safetensors';
import { unpickle, Callables, PyGlobal } from './pickle';

interface StorageType { dtype: DType; size: number; convert?: (b: Uint16Array) => Float32Array }
const STORAGES: Record<string, StorageType> = {
  FloatStorage: { dtype: 'float32', size: 4 }, DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float32', size: 2, convert: halfToFloat }, BFloat16Storage: { dtype: 'float32', size: 2, convert: bfloatToFloat },
  LongStorage: { dtype: 'int64', size: 8 }, IntStorage: { dtype: 'int32', size: 4 },
  ByteStorage: { dtype: 'uint8', size: 1 }, BoolStorage: { dtype: 'bool', size: 1 },
};

interface Storage { type: StorageType; key: string; data: TypedArray }
interface TensorSpec { storage: Storage; offset: number; size: number[]; stride: number[] }
const isSpec = (v: unknown): v is TensorSpec => !!v && typeof v === 'object' && 'storage' in v && 'stride' in v;

function typed(type: StorageType, bytes: Uint8Array): TypedArray {
  const b = new Uint8Array(bytes); // aligned copy
  switch (type.size === 2 ? 'half' : type.dtype) {
    case 'half': return type.convert!(new Uint16Array(b.buffer, 0, b.length / 2));
    case 'float32': return new Float32Array(b.buffer, 0, b.length / 4);
    case 'float64': return new Float64Array(b.buffer, 0, b.length / 8);
    case 'int64': return new BigInt64Array(b.buffer, 0, b.length / 8);
    case 'int32': return new Int32Array(b.buffer, 0, b.length / 4);
    default: return b;
  }
}

/** The elements of a strided view of a storage, in row-major order. */
function gather(s: TensorSpec, what: string): TypedArray {
  const n = s.size.reduce((a, b) => a * b, 1);
  const src = s.storage.data;
  let last = s.offset;
  s.size.forEach((d, i) => { if (d > 0) last += (d - 1) * s.stride[i]; });
  if (n > 0 && (s.offset < 0 || last >= src.length)) throw new Error(`${what}: a tensor reaches past its storage ${s.storage.key}`);
  const contiguous = s.size.every((_, i) => s.size[i] === 1 || s.stride[i] === s.size.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return src.slice(s.offset, s.offset + n) as TypedArray;
  const out = new (src.constructor as { new (n: number): TypedArray })(n);
  const idx = new Array(s.size.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = s.offset;
    for (let i = 0; i < idx.length; i++) off += idx[i] * s.stride[i];
    (out as unknown as unknown[])[k] = (src as unknown as unknown[])[off];
    for (let i = idx.length - 1; i >= 0 && ++idx[i] === s.size[i]; i--) idx[i] = 0;
  }
  return out;
}

/** Reads a torch.save()d state dict (tensors in the caller's scope). */
export function readTorchStateDict(file: string): Record<string, Tensor> {
  if (!fs.existsSync(file)) throw new Error(`file not found: ${file}`);
  const what = `${file}: cannot read as a PyTorch state dict`;
  let zip: Record<string, Uint8Array>;
  try {
    zip = unzipSync(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`${what} (not a torch.save zip file: ${(e as Error).message}; legacy pre-1.6 .pt files are not supported)`);
  }
  const pkl = Object.keys(zip).find((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (!pkl) throw new Error(`${what} (the zip holds no <archive>/data.pkl)`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = zip[`${prefix}byteorder`];
  if (order && Buffer.from(order).toString() !== 'little') throw new Error(`${what} (big-endian storages are not supported)`);
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const [tag, cls, key, , numel] = pid as [string, PyGlobal, string, string, number];
    const type = cls && cls.module === 'torch' ? STORAGES[cls.name] : undefined;
    if (tag !== 'storage' || !type) throw new Error(`${what} (unsupported persistent id ${JSON.stringify(pid)})`);
    const seen = storages.get(key);
    if (seen) return seen;
    const bytes = zip[`${prefix}data/${key}`];
    if (!bytes || bytes.length !== numel * type.size) throw new Error(`${what} (storage ${key} is missing or not ${numel} elements)`);
    const s = { type, key, data: typed(type, bytes) };
    storages.set(key, s);
    return s;
  };
  const refuseCall = (name: string) => (): never => { throw new Error(`${what} (${name} called)`); };
  const callables: Callables = {
    'collections.OrderedDict': () => new Map(),
    'torch._utils._rebuild_tensor_v2': (a) => ({ storage: a[0], offset: a[1], size: a[2], stride: a[3] }) as TensorSpec,
    'torch._utils._rebuild_parameter': (a) => a[0],
    ...Object.fromEntries(Object.keys(STORAGES).map((n) => [`torch.${n}`, refuseCall(`torch.${n}`)])),
  };
  const root = unpickle(zip[pkl], callables, persistentLoad, what);
  const sd = pickStateDict(root);
  if (!sd) throw new Error(`${what} (the pickle holds no state dict: a dict of tensors)`);
  const arrays = [...sd].map(([k, s]) => [k, gather(s, what), s] as const);
  const out: Record<string, Tensor> = {};
  for (const [k, data, s] of arrays) {
    const t = Tensor.from(data, s.size, s.storage.type.dtype);
    Object.defineProperty(out, k, { value: t, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The dict of tensors: the pickle itself, or a training checkpoint's 'state_dict'/'model' entry. */
function pickStateDict(v: unknown): Map<string, TensorSpec> | null {
  if (!(v instanceof Map)) return null;
  const entries = [...v];
  if (entries.length && entries.every(([k, t]) => typeof k === 'string' && isSpec(t))) return v as Map<string, TensorSpec>;
  for (const key of ['state_dict', 'model_state_dict', 'model']) {
    const inner = v.get(key);
    if (inner instanceof Map && inner.size && [...inner].every(([k, t]) => typeof k === 'string' && isSpec(t))) return inner as Map<string, TensorSpec>;
  }
  return null;
}
