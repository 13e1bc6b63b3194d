// Builds an ONNX graph as plain objects: nodes with fresh output names, initializers with their
// bytes (float32 and int64 little-endian; low-bit codes packed first element in the lowest bits,
// as onnx.proto specifies for 2- and 4-bit types).
import { AttributeProto, AttrType, DataType, NodeProto, TensorProto } from './schema';
import { CONTAINERS, Container } from './containers';

export type Attr = AttributeProto;
export const attr = {
  int: (name: string, i: number): Attr => ({ name, type: AttrType.INT, i }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: AttrType.INTS, ints }),
  float: (name: string, f: number): Attr => ({ name, type: AttrType.FLOAT, f }),
};

/** Packs codes 0..2^bits − 1 (bits 2, 4 or 8), first element in the lowest bits of a byte. */
export function packCodes(codes: ArrayLike<number>, bits: number): Uint8Array {
  if (![2, 4, 8].includes(bits)) throw new Error(`packCodes: bits must be 2, 4 or 8, got ${bits}`);
  const perByte = 8 / bits;
  const max = 2 ** bits - 1;
  const out = new Uint8Array(Math.ceil(codes.length / perByte));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c > max) throw new Error(`packCodes: code ${c} at index ${i} is not in 0..${max}`);
    out[Math.floor(i / perByte)] |= c << ((i % perByte) * bits);
  }
  return out;
}

/** The inverse of packCodes for `count` elements. */
export function unpackCodes(bytes: Uint8Array, bits: number, count: number): number[] {
  const perByte = 8 / bits;
  const mask = 2 ** bits - 1;
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[Math.floor(i / perByte)] >> ((i % perByte) * bits)) & mask;
  return out;
}

const bytesOf = (a: Float32Array | BigInt64Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet, from base ("x", "x_1", ...). */
  fresh(base: string): string {
    let name = base, k = 0;
    while (this.used.has(name)) name = `${base}_${++k}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a name (graph inputs). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`GraphBuilder: name '${name}' is taken`);
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output named after `name`; returns the output. */
  op(opType: string, inputs: string[], name: string, attrs: Attr[] = []): string {
    const out = this.fresh(name);
    this.nodes.push({ name: out, op_type: opType, input: inputs, output: [out], attribute: attrs });
    return out;
  }

  floats(name: string, data: ArrayLike<number>, dims: number[]): string {
    return this.init(name, DataType.FLOAT, dims, bytesOf(Float32Array.from(data)), data.length);
  }

  int64s(name: string, data: number[], dims: number[]): string {
    return this.init(name, DataType.INT64, dims, bytesOf(BigInt64Array.from(data, (v) => BigInt(v))), data.length);
  }

  /** Integer codes in a low-bit container (packed). */
  codes(name: string, codes: ArrayLike<number>, dims: number[], container: Container): string {
    const c = CONTAINERS[container];
    return this.init(name, c.dataType, dims, packCodes(codes, c.bits), codes.length);
  }

  private init(name: string, dataType: number, dims: number[], raw: Uint8Array, count: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== count) throw new Error(`GraphBuilder: initializer '${name}' has ${count} values for dims [${dims.join(', ')}]`);
    const out = this.fresh(name);
    this.initializers.push({ name: out, data_type: dataType, dims, raw_data: raw });
    return out;
  }
}
