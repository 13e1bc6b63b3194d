// What `gdnsq info` reads from an ONNX file: the ModelProto's header fields, the gdnsq model
// card (metadata_props key `gdnsq`, written by `gdnsq export --format onnx`), the op types of the
// graph and its initializers' element types and sizes. info needs a handful of fields, so this
// is a small reader of the protobuf wire format (varints and length-delimited fields; every
// other field is skipped by its wire type) rather than the full onnx.proto schema; a file that
// does not parse as that is refused in one line. Field numbers are from onnx.proto (IR v10+).

/** TensorProto.DataType names and element bits (sub-byte types are packed by ONNX). */
const DTYPES: Record<number, [string, number]> = {
  1: ['float32', 32], 2: ['uint8', 8], 3: ['int8', 8], 4: ['uint16', 16], 5: ['int16', 16], 6: ['int32', 32],
  7: ['int64', 64], 9: ['bool', 8], 10: ['float16', 16], 11: ['float64', 64], 12: ['uint32', 32], 13: ['uint64', 64],
  16: ['bfloat16', 16], 21: ['uint4', 4], 22: ['int4', 4], 25: ['uint2', 2], 26: ['int2', 2],
};

export interface OnnxInitializer { name: string; dtype: string; dims: number[]; elements: number; bytes: number }
export interface OnnxSummary {
  irVersion: number;
  producer: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  ops: Record<string, number>;
  initializers: OnnxInitializer[];
}

interface Field { no: number; wire: number; int: number; bytes: Uint8Array | null }

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}
  get done(): boolean { return this.pos >= this.buf.length; }

  varint(): number {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error(`${this.what}: truncated varint`);
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new Error(`${this.what}: varint longer than 10 bytes`);
  }

  field(): Field {
    const key = this.varint();
    const no = Math.floor(key / 8), wire = key % 8;
    if (no === 0) throw new Error(`${this.what}: field number 0`);
    const skip = (n: number): Uint8Array => {
      if (this.pos + n > this.buf.length) throw new Error(`${this.what}: field ${no} runs past the end`);
      const b = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      return b;
    };
    switch (wire) {
      case 0: return { no, wire, int: this.varint(), bytes: null };
      case 1: return { no, wire, int: 0, bytes: skip(8) };
      case 2: return { no, wire, int: 0, bytes: skip(this.varint()) };
      case 5: return { no, wire, int: 0, bytes: skip(4) };
      default: throw new Error(`${this.what}: unsupported wire type ${wire} (field ${no})`);
    }
  }

  /** Every field of a message, in file order. */
  static fields(buf: Uint8Array, what: string): Field[] {
    const r = new Reader(buf, what), out: Field[] = [];
    while (!r.done) out.push(r.field());
    return out;
  }
}

const str = (b: Uint8Array | null): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

/** Repeated int64 field: packed (wire 2) or one varint per entry. */
function ints(fields: Field[], no: number, what: string): number[] {
  const out: number[] = [];
  for (const f of fields.filter((x) => x.no === no)) {
    if (f.wire === 0) out.push(f.int);
    else if (f.wire === 2) {
      const r = new Reader(f.bytes!, what);
      while (!r.done) out.push(r.varint());
    }
  }
  return out;
}

function initializer(b: Uint8Array, what: string): OnnxInitializer {
  const f = Reader.fields(b, what);
  const dims = ints(f, 1, what);
  const type = f.find((x) => x.no === 2)?.int ?? 0;
  const [dtype, bits] = DTYPES[type] ?? [`type ${type}`, 0];
  const elements = dims.reduce((a, d) => a * d, 1);
  const raw = f.find((x) => x.no === 9)?.bytes;
  // raw_data holds the bytes as stored; typed fields (float_data = 4, int32_data = 5, ...) are
  // counted at the element width.
  return { name: str(f.find((x) => x.no === 8)?.bytes ?? null), dtype, dims, elements, bytes: raw ? raw.length : Math.ceil((elements * bits) / 8) };
}

/** Parses the parts of an ONNX ModelProto that info shows; throws one line for anything else. */
export function readOnnxSummary(buf: Uint8Array, file: string): OnnxSummary {
  const what = `${file}: not a valid ONNX file`;
  const top = Reader.fields(buf, what);
  const irVersion = top.find((f) => f.no === 1 && f.wire === 0)?.int;
  const graph = top.find((f) => f.no === 7 && f.wire === 2)?.bytes;
  if (irVersion === undefined || !graph) throw new Error(`${what} (no ir_version or graph)`);
  const metadata: Record<string, string> = {};
  for (const f of top.filter((x) => x.no === 14 && x.wire === 2)) {
    const kv = Reader.fields(f.bytes!, what);
    metadata[str(kv.find((x) => x.no === 1)?.bytes ?? null)] = str(kv.find((x) => x.no === 2)?.bytes ?? null);
  }
  const opsets = top.filter((f) => f.no === 8 && f.wire === 2).map((f) => {
    const o = Reader.fields(f.bytes!, what);
    return { domain: str(o.find((x) => x.no === 1)?.bytes ?? null), version: o.find((x) => x.no === 2)?.int ?? 0 };
  });
  const g = Reader.fields(graph, what);
  const ops: Record<string, number> = {};
  for (const n of g.filter((f) => f.no === 1 && f.wire === 2)) {
    const op = str(Reader.fields(n.bytes!, what).find((x) => x.no === 4)?.bytes ?? null);
    ops[op] = (ops[op] ?? 0) + 1;
  }
  return {
    irVersion, opsets, metadata, ops,
    producer: str(top.find((f) => f.no === 2)?.bytes ?? null),
    producerVersion: str(top.find((f) => f.no === 3)?.bytes ?? null),
    initializers: g.filter((f) => f.no === 5 && f.wire === 2).map((f) => initializer(f.bytes!, what)),
  };
}
