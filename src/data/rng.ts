// A small seeded PRNG for data order and augmentation: xoshiro128** (Blackman & Vigna), 128-bit
// state, seeded through splitmix32 from any number of integer keys, so a stream such as
// (seed, epoch, batch) is a pure function of its keys and independent of every other stream.
// Independent of libtorch's generator: the data order never depends on what the model drew.

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private readonly s = new Uint32Array(4);

  /** keys: integers (up to ±2^53); the same keys give the same stream. */
  constructor(...keys: number[]) {
    let h = 0x6a09e667;
    for (const k of keys) {
      if (!Number.isSafeInteger(k)) throw new Error(`Rng: key ${k} is not a safe integer`);
      h = splitmix32(h ^ (k >>> 0));
      h = splitmix32(h ^ Math.floor(k / 2 ** 32));
    }
    for (let i = 0; i < 4; i++) this.s[i] = h = splitmix32(h + i);
    if (this.s.every((v) => v === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number { return this.nextU32() / 2 ** 32; }

  /** Uniform integer in [0, n), unbiased (rejects the incomplete top range). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new Error(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let v: number;
    do v = this.nextU32(); while (v >= limit);
    return v % n;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** The 4 state words; setState(state()) resumes the exact stream. */
  state(): number[] { return Array.from(this.s); }

  setState(state: number[]): void {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new Error('Rng.setState: expected 4 unsigned 32-bit integers');
    }
    if (state.every((v) => v === 0)) throw new Error('Rng.setState: the all-zero state is invalid');
    this.s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
