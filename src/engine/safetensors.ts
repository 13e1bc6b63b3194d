// safetensors files (the format of Hugging Face's `safetensors`): an 8-byte little-endian u64
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {str: str}}, then the tensor bytes; offsets are relative to the end of the
// header. We write the header padded with spaces so the data starts 8-byte aligned, and lay
// tensors out contiguously in insertion order. F16/BF16 tensors are read as float32 (exact),
// so checkpoints written by PyTorch in half precision load; other dtypes are refused.
import * as fs from 'fs';
import * as os from 'os';
import { Tensor } from './tensor';
import { DType, TypedArray } from './dtype';

type Named<T> = Record<string, T>;
export interface SafetensorsContent { tensors: Named<Tensor>; metadata: Named<string> }

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
const FROM_ST: Record<string, { dtype: DType; size: number }> = {
  F32: { dtype: 'float32', size: 4 }, F64: { dtype: 'float64', size: 8 }, I64: { dtype: 'int64', size: 8 },
  I32: { dtype: 'int32', size: 4 }, U8: { dtype: 'uint8', size: 1 }, BOOL: { dtype: 'bool', size: 1 },
  F16: { dtype: 'float32', size: 2 }, BF16: { dtype: 'float32', size: 2 },
};
const METADATA = '__metadata__';

// Typed arrays use the host byte order; the format is little-endian.
if (os.endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');

function checkMetadata(metadata: Named<string>, where: string): void {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`${where}: metadata value '${k}' is ${typeof v}, not a string`);
  }
}

export function encodeSafetensors(tensors: Named<Tensor>, metadata?: Named<string>): Buffer {
  const header: Named<unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    checkMetadata(metadata, 'safetensors');
    header[METADATA] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === METADATA) throw new Error(`safetensors: '${METADATA}' is reserved and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new Error(`safetensors: '${name}' is not a Tensor`);
    const d = t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Writes file.tmp-<pid>, flushes it to disk, then renames it over file. */
export function saveSafetensors(file: string, tensors: Named<Tensor>, metadata?: Named<string>): void {
  const buf = encodeSafetensors(tensors, metadata);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, buf);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`safetensors ${file}: cannot write (${(e as Error).message})`);
  }
}

export function loadSafetensors(file: string): SafetensorsContent {
  if (!fs.existsSync(file)) throw new Error(`safetensors ${file}: file not found`);
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Only the metadata of a file (validated like a full load, but no tensor is created). */
export function loadSafetensorsMetadata(file: string): Named<string> {
  if (!fs.existsSync(file)) throw new Error(`safetensors ${file}: file not found`);
  return { ...parseHeader(fs.readFileSync(file), `safetensors ${file}`).metadata };
}

interface Entry { name: string; dtype: string; shape: number[]; begin: number; end: number }

function parseHeader(buf: Buffer, where: string): { entries: Entry[]; metadata: Named<string>; dataStart: number } {
  if (buf.length < 8) throw new Error(`${where}: file shorter than 8 bytes (${buf.length})`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw new Error(`${where}: header length ${n} beyond file size ${buf.length}`);
  const dataStart = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, dataStart));
  } catch (e) {
    throw new Error(`${where}: header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`${where}: header is not a JSON object`);
  const bufferLen = buf.length - dataStart;
  let metadata: Named<string> = {};
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(header as Named<unknown>)) {
    if (name === METADATA) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: ${METADATA} is not an object`);
      checkMetadata(v as Named<string>, where);
      metadata = v as Named<string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== 'object') throw new Error(`${where}: entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: off } = e;
    if (typeof dtype !== 'string' || !(dtype in FROM_ST)) {
      throw new Error(`${where}: tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (${Object.keys(FROM_ST).join(', ')})`);
    }
    const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!Array.isArray(shape) || !shape.every(isCount)) throw new Error(`${where}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0] > off[1]) {
      throw new Error(`${where}: tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as number[];
    if (end > bufferLen) throw new Error(`${where}: tensor '${name}' data_offsets [${begin}, ${end}] outside the ${bufferLen}-byte buffer`);
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * FROM_ST[dtype].size;
    if (want !== end - begin) {
      throw new Error(`${where}: tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${want} bytes but data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // Empty tensors occupy no bytes, so they cannot overlap anything.
  const spans = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end) {
      throw new Error(`${where}: tensors '${spans[i - 1].name}' and '${spans[i].name}' have overlapping data_offsets`);
    }
  }
  return { entries, metadata, dataStart };
}

/** Exact float16 → float32 (subnormals, infinities and NaN included). */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

export function bfloatToFloat(bits: Uint16Array): Float32Array {
  const wide = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
  return new Float32Array(wide.buffer);
}

/** A typed view of bytes, copied only where the start is not aligned for the element type. */
function view<A>(bytes: Uint8Array, size: number, make: (b: ArrayBuffer, off: number, n: number) => A): A {
  const src = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer.slice would share)
  return make(src.buffer as ArrayBuffer, src.byteOffset, src.length / size);
}

function toArray(dtype: string, bytes: Uint8Array): TypedArray {
  switch (dtype) {
    case 'F32': return view(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
    case 'F64': return view(bytes, 8, (b, o, n) => new Float64Array(b, o, n));
    case 'I64': return view(bytes, 8, (b, o, n) => new BigInt64Array(b, o, n));
    case 'I32': return view(bytes, 4, (b, o, n) => new Int32Array(b, o, n));
    case 'F16': return halfToFloat(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    case 'BF16': return bfloatToFloat(view(bytes, 2, (b, o, n) => new Uint16Array(b, o, n)));
    default: return bytes; // U8, BOOL
  }
}

/** Tensors are created in the caller's scope. `source` names the file in error messages. */
export function decodeSafetensors(buf: Buffer, source = '<buffer>'): SafetensorsContent {
  const where = `safetensors ${source}`;
  const { entries, metadata, dataStart } = parseHeader(buf, where);
  // Validate everything before creating the first tensor, so a bad file leaks nothing.
  const arrays = entries.map((e) => {
    const bytes = buf.subarray(dataStart + e.begin, dataStart + e.end);
    if (e.dtype === 'BOOL') {
      const bad = bytes.findIndex((b) => b > 1);
      if (bad >= 0) throw new Error(`${where}: BOOL tensor '${e.name}' holds byte ${bytes[bad]} at element ${bad}`);
    }
    return toArray(e.dtype, bytes);
  });
  const tensors: Named<Tensor> = {};
  entries.forEach((e, i) => {
    const t = Tensor.from(arrays[i], e.shape, FROM_ST[e.dtype].dtype);
    // defineProperty: a tensor named "__proto__" must become a key, not a prototype.
    Object.defineProperty(tensors, e.name, { value: t, enumerable: true, writable: true, configurable: true });
  });
  return { tensors, metadata: { ...metadata } };
}
