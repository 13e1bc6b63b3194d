// Bit packing of unsigned integer codes at their true width (1–8 bits), in ONNX's order.
//
// Layout (the packed format's `codes` tensors; see docs/packed-format.md): the codes of a tensor
// are taken row-major (for a conv weight [out, in, kh, kw]: over [out, in·kh·kw]) and written as
// one contiguous little-endian bit stream: element i occupies stream bits [i·b, (i+1)·b), its
// least significant bit first, and stream bit k is bit (k mod 8) of byte ⌊k/8⌋ (bit 0 = the
// least significant). For b = 1, 2, 4, 8 this is exactly ONNX's packing of int4/uint4 and
// int2/uint2 ("the first element in the lowest bits"); for b = 3, 5, 6, 7 a code may straddle
// two bytes (no padding between elements or rows). The last byte is zero-padded; a tensor of n
// codes takes ⌈n·b/8⌉ bytes. This is not a hot path (it runs once per load), so it is plain
// TypeScript on typed arrays.

export const MIN_PACK_BITS = 1;
export const MAX_PACK_BITS = 8;

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < MIN_PACK_BITS || bits > MAX_PACK_BITS) {
    throw new Error(`bit packing: width must be an integer from ${MIN_PACK_BITS} to ${MAX_PACK_BITS}, got ${bits}`);
  }
}

/** Bytes that n codes of `bits` bits take: ⌈n·bits/8⌉. */
export function packedBytes(n: number, bits: number): number {
  checkBits(bits);
  return Math.ceil((n * bits) / 8);
}

/** The smallest width (≥ 1) that holds every code in 0..maxCode. */
export function bitsFor(maxCode: number): number {
  if (!Number.isInteger(maxCode) || maxCode < 0) throw new Error(`bit packing: codes must be non-negative integers, got ${maxCode}`);
  return Math.max(1, Math.ceil(Math.log2(maxCode + 1)));
}

/** Packs codes (each an integer in [0, 2^bits − 1]) into ⌈n·bits/8⌉ bytes. */
export function pack(codes: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(packedBytes(codes.length, bits));
  const top = (1 << bits) - 1;
  let bit = 0;
  for (let i = 0; i < codes.length; i++, bit += bits) {
    const c = codes[i];
    if (!(Number.isInteger(c) && c >= 0 && c <= top)) {
      throw new Error(`bit packing: code ${c} at element ${i} does not fit in ${bits} bit${bits > 1 ? 's' : ''} (0..${top})`);
    }
    const byte = bit >>> 3, shift = bit & 7;
    out[byte] |= (c << shift) & 0xff;
    if (shift + bits > 8) out[byte + 1] |= c >>> (8 - shift);
  }
  return out;
}

/** The inverse of pack(): n codes of `bits` bits from bytes (which must be exactly ⌈n·bits/8⌉ long). */
export function unpack(bytes: Uint8Array, n: number, bits: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bit packing: element count must be a non-negative integer, got ${n}`);
  const want = packedBytes(n, bits);
  if (bytes.length !== want) throw new Error(`bit packing: ${n} codes of ${bits} bits need ${want} bytes, got ${bytes.length}`);
  const out = new Uint8Array(n);
  const mask = (1 << bits) - 1;
  let bit = 0;
  for (let i = 0; i < n; i++, bit += bits) {
    const byte = bit >>> 3, shift = bit & 7;
    let v = bytes[byte] >>> shift;
    if (shift + bits > 8) v |= bytes[byte + 1] << (8 - shift);
    out[i] = v & mask;
  }
  return out;
}
