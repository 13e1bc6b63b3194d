// A restricted unpickler for PyTorch's data.pkl (protocols 2–5): it executes no code. Only the
// opcodes that build plain containers are understood, and GLOBAL/STACK_GLOBAL may name only
// the few callables a state dict is made of (the `allow` set, resolved by the caller to pure
// TypeScript functions). Anything else — a pickled module class, os.system, an unknown opcode —
// is refused with one line naming it, before anything runs. This is the same idea as
// torch.load(weights_only=True), with an allow-list that is smaller still.

/** A Python callable the caller allowed, e.g. `collections.OrderedDict`. */
export interface PyGlobal { module: string; name: string }
/** A persistent id (BINPERSID), resolved by the caller (torch: a storage in the zip). */
export type PersistentLoad = (pid: unknown) => unknown;
export type Callables = Record<string, (args: unknown[]) => unknown>;

const MARK = Symbol('mark');

/** The restricted unpickling of buf; `callables` maps 'module.name' to the allowed functions. */
export function unpickle(buf: Uint8Array, callables: Callables, persistentLoad: PersistentLoad, what = 'pickle'): unknown {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (msg: string): never => { throw new Error(`${what}: ${msg}`); };
  const need = (n: number): void => { if (pos + n > buf.length) fail('truncated'); };
  const u8 = (): number => { need(1); return buf[pos++]; };
  const u16 = (): number => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => { need(8); const v = Number(dv.getBigUint64(pos, true)); pos += 8; return v; };
  const bytes = (n: number): Uint8Array => { need(n); const b = buf.subarray(pos, pos + n); pos += n; return b; };
  const text = (n: number): string => Buffer.from(bytes(n)).toString('utf8');
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('truncated');
    const s = Buffer.from(buf.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => (stack.length ? stack.pop() : fail('stack underflow'));
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no MARK');
    const items = stack.splice(i);
    return items.slice(1);
  };
  const global = (module: string, name: string): PyGlobal => {
    const key = `${module}.${name}`;
    if (!Object.prototype.hasOwnProperty.call(callables, key)) {
      fail(`refusing to load '${key}': only state dicts (tensors in dicts) are read, no pickled code or classes`);
    }
    return { module, name };
  };
  const call = (f: unknown, args: unknown): unknown => {
    const g = f as PyGlobal;
    if (!g || typeof g.module !== 'string' || !Array.isArray(args)) fail('REDUCE of something that is not an allowed callable');
    return callables[`${g.module}.${g.name}`](args as unknown[]);
  };
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  const append = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) fail('APPEND(S) on something that is not a list');
    (l as unknown[]).push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME (protocol 4+): frames are only a read-ahead hint
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT (OrderedDict and dict alike)
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE (tuples are arrays here)
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: { // LONG1: little-endian two's complement
        const b = bytes(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(Number(v));
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x55: stack.push(Buffer.from(bytes(u8())).toString('latin1')); break; // SHORT_BINSTRING
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(`memo ${k} unset`); stack.push(memo.get(k)); break; } // BINGET
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(`memo ${k} unset`); stack.push(memo.get(k)); break; } // LONG_BINGET
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const kv = popMark(); const d = new Map(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop() as string, module = pop() as string; stack.push(global(module, name)); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ
      case 0x62: pop(); break; // BUILD: state of an OrderedDict (its _metadata) — not needed
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      default: fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}
