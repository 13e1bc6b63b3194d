// Tensor: a typed handle to a libtorch tensor. Every op returns a new Tensor registered in the
// current scope (engine/scope.ts). Shapes follow PyTorch; so do broadcasting and type promotion.
import { native, NativeHandle } from './native';
import { track, keep as keepTensor } from './scope';
import { DType, TypedArray, dtypeOfArray, checkDType, isFloating } from './dtype';

export type Scalar = number;
export type TensorLike = Tensor | Scalar;
type Dims = number | number[];

const h = (x: TensorLike): NativeHandle | number => (typeof x === 'number' ? x : x.handle);

export class Tensor {
  private _handle: NativeHandle | null;
  private _shape?: number[];
  private _dtype?: DType;

  constructor(handle: NativeHandle) {
    this._handle = handle;
    track(this);
  }

  /** @internal The native handle; throws a clear error once disposed. */
  get handle(): NativeHandle {
    if (this._handle === null) throw new Error('tensor used after dispose()');
    return this._handle;
  }

  // ---- creation -------------------------------------------------------------------------
  static from(data: TypedArray | number[], shape?: number[], dtype?: DType): Tensor {
    const arr: TypedArray = Array.isArray(data) ? Tensor.arrayFor(data, dtype ?? 'float32') : data;
    const dt = dtypeOfArray(arr);
    const t = new Tensor(native.fromBuffer(arr, dt === 'uint8' && dtype === 'bool' ? 'bool' : dt, shape ?? [arr.length]));
    if (dtype && dtype !== t.dtype) {
      const c = t.to(dtype);
      t.dispose();
      return c;
    }
    return t;
  }
  private static arrayFor(data: number[], dtype: DType): TypedArray {
    switch (dtype) {
      case 'float64': return Float64Array.from(data);
      case 'int64': return BigInt64Array.from(data, (v) => BigInt(Math.trunc(v)));
      case 'int32': return Int32Array.from(data);
      case 'uint8': return Uint8Array.from(data);
      case 'bool': return Uint8Array.from(data, (v) => (v ? 1 : 0));
      default: return Float32Array.from(data);
    }
  }
  static scalar(v: number, dtype: DType = 'float32'): Tensor { return new Tensor(native.scalarTensor(v, dtype)); }
  static zeros(shape: number[], dtype: DType = 'float32'): Tensor { return new Tensor(native.zeros(shape, checkDType(dtype))); }
  static ones(shape: number[], dtype: DType = 'float32'): Tensor { return new Tensor(native.ones(shape, checkDType(dtype))); }
  static full(shape: number[], v: number, dtype: DType = 'float32'): Tensor { return new Tensor(native.full(shape, v, checkDType(dtype))); }
  /** [start, end) by step; dtype defaults as in PyTorch: int64 for integer bounds, else float32. */
  static arange(start: number, end?: number, step = 1, dtype?: DType): Tensor {
    if (end === undefined) [start, end] = [0, start];
    const dt = dtype ?? ([start, end, step].every(Number.isInteger) ? 'int64' : 'float32');
    return new Tensor(native.arange(start, end, step, checkDType(dt)));
  }
  static rand(shape: number[], dtype: DType = 'float32'): Tensor { return new Tensor(native.rand(shape, checkDType(dtype))); }
  static randn(shape: number[], dtype: DType = 'float32'): Tensor { return new Tensor(native.randn(shape, checkDType(dtype))); }
  static randint(low: number, high: number, shape: number[], dtype: DType = 'int64'): Tensor {
    return new Tensor(native.randint(low, high, shape, checkDType(dtype)));
  }
  static randperm(n: number): Tensor { return new Tensor(native.randperm(n)); }
  static zerosLike(t: Tensor): Tensor { return new Tensor(native.zerosLike(t.handle)); }
  static onesLike(t: Tensor): Tensor { return new Tensor(native.onesLike(t.handle)); }
  static randLike(t: Tensor): Tensor { return new Tensor(native.randLike(t.handle)); }
  static cat(ts: Tensor[], dim = 0): Tensor { return new Tensor(native.cat(ts.map((t) => t.handle), dim)); }
  static stack(ts: Tensor[], dim = 0): Tensor { return new Tensor(native.stack(ts.map((t) => t.handle), dim)); }
  static where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor { return new Tensor(native.where(cond.handle, h(a), h(b))); }

  // ---- inspection -----------------------------------------------------------------------
  get shape(): number[] { return (this._shape ??= native.shape(this.handle) as number[]).slice(); }
  get dtype(): DType { return (this._dtype ??= native.dtype(this.handle) as DType); }
  get device(): string { return native.device(this.handle) as string; }
  get ndim(): number { return this.shape.length; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
  size(dim: number): number { const s = this.shape; return s[dim < 0 ? s.length + dim : dim]; }
  get isDisposed(): boolean { return this._handle === null; }
  get isContiguous(): boolean { return native.isContiguous(this.handle) as boolean; }
  /** Copies the elements (row-major) into a new typed array. */
  data(): TypedArray { return native.data(this.handle) as TypedArray; }
  /** Like data() but always numbers (int64 converted). */
  toArray(): number[] { const d = this.data(); return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d); }
  item(): number { return native.item(this.handle) as number; }
  toString(): string { return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`; }

  // ---- lifetime -------------------------------------------------------------------------
  dispose(): void {
    if (this._handle === null) return;
    native.dispose(this._handle);
    this._handle = null;
  }
  /** Survives every enclosing scope; free it with dispose(). */
  keep(): this { return keepTensor(this); }
  /** @internal Left to dispose() or the GC: V8 is told of its native memory from now on. */
  untracked(): void { if (this._handle !== null) native.reportExternal(this._handle); }

  // ---- conversion and views -------------------------------------------------------------
  to(dtype?: DType, device?: string): Tensor { return new Tensor(native.to(this.handle, dtype, device)); }
  float(): Tensor { return this.to('float32'); }
  reshape(shape: number[]): Tensor { return new Tensor(native.reshape(this.handle, shape)); }
  view(shape: number[]): Tensor { return new Tensor(native.view(this.handle, shape)); }
  permute(dims: number[]): Tensor { return new Tensor(native.permute(this.handle, dims)); }
  transpose(a: number, b: number): Tensor { return new Tensor(native.transpose(this.handle, a, b)); }
  contiguous(): Tensor { return new Tensor(native.contiguous(this.handle)); }
  clone(): Tensor { return new Tensor(native.clone(this.handle)); }
  expand(shape: number[]): Tensor { return new Tensor(native.expand(this.handle, shape)); }
  squeeze(dim?: number): Tensor { return new Tensor(native.squeeze(this.handle, dim)); }
  unsqueeze(dim: number): Tensor { return new Tensor(native.unsqueeze(this.handle, dim)); }
  flatten(start = 0, end = -1): Tensor { return new Tensor(native.flatten(this.handle, start, end)); }
  /** Elements start..end (exclusive) with step along dim, like x[..., start:end:step]. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    return new Tensor(native.slice(this.handle, dim, start, end ?? Number.MAX_SAFE_INTEGER, step));
  }
  narrow(dim: number, start: number, length: number): Tensor { return new Tensor(native.narrow(this.handle, dim, start, length)); }
  select(dim: number, index: number): Tensor { return new Tensor(native.select(this.handle, dim, index)); }
  indexSelect(dim: number, index: Tensor): Tensor { return new Tensor(native.indexSelect(this.handle, dim, index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native.gather(this.handle, dim, index.handle)); }
  flip(dims: number[]): Tensor { return new Tensor(native.flip(this.handle, dims)); }
  pad(pads: number[], value = 0): Tensor { return new Tensor(native.constantPad(this.handle, pads, value)); }
  oneHot(numClasses: number): Tensor { return new Tensor(native.oneHot(this.handle, numClasses)); }

  // ---- elementwise ----------------------------------------------------------------------
  add(o: TensorLike): Tensor { return new Tensor(native.add(this.handle, h(o))); }
  sub(o: TensorLike): Tensor { return new Tensor(native.sub(this.handle, h(o))); }
  /** o - this */
  rsub(o: TensorLike): Tensor { return new Tensor(native.sub(h(o), this.handle)); }
  mul(o: TensorLike): Tensor { return new Tensor(native.mul(this.handle, h(o))); }
  div(o: TensorLike): Tensor { return new Tensor(native.div(this.handle, h(o))); }
  /** o / this */
  rdiv(o: TensorLike): Tensor { return new Tensor(native.div(h(o), this.handle)); }
  pow(o: TensorLike): Tensor { return new Tensor(native.pow(this.handle, h(o))); }
  maximum(o: TensorLike): Tensor { return new Tensor(native.maximum(this.handle, h(o))); }
  minimum(o: TensorLike): Tensor { return new Tensor(native.minimum(this.handle, h(o))); }
  eq(o: TensorLike): Tensor { return new Tensor(native.eq(this.handle, h(o))); }
  ne(o: TensorLike): Tensor { return new Tensor(native.ne(this.handle, h(o))); }
  lt(o: TensorLike): Tensor { return new Tensor(native.lt(this.handle, h(o))); }
  le(o: TensorLike): Tensor { return new Tensor(native.le(this.handle, h(o))); }
  gt(o: TensorLike): Tensor { return new Tensor(native.gt(this.handle, h(o))); }
  ge(o: TensorLike): Tensor { return new Tensor(native.ge(this.handle, h(o))); }
  logicalAnd(o: TensorLike): Tensor { return new Tensor(native.logicalAnd(this.handle, h(o))); }
  logicalOr(o: TensorLike): Tensor { return new Tensor(native.logicalOr(this.handle, h(o))); }
  logicalNot(): Tensor { return new Tensor(native.logicalNot(this.handle)); }
  neg(): Tensor { return new Tensor(native.neg(this.handle)); }
  /** Round half to even, as torch.round. */
  round(): Tensor { return new Tensor(native.round(this.handle)); }
  floor(): Tensor { return new Tensor(native.floor(this.handle)); }
  ceil(): Tensor { return new Tensor(native.ceil(this.handle)); }
  trunc(): Tensor { return new Tensor(native.trunc(this.handle)); }
  exp(): Tensor { return new Tensor(native.exp(this.handle)); }
  exp2(): Tensor { return new Tensor(native.exp2(this.handle)); }
  log(): Tensor { return new Tensor(native.log(this.handle)); }
  log2(): Tensor { return new Tensor(native.log2(this.handle)); }
  abs(): Tensor { return new Tensor(native.abs(this.handle)); }
  sign(): Tensor { return new Tensor(native.sign(this.handle)); }
  sqrt(): Tensor { return new Tensor(native.sqrt(this.handle)); }
  rsqrt(): Tensor { return new Tensor(native.rsqrt(this.handle)); }
  square(): Tensor { return new Tensor(native.square(this.handle)); }
  reciprocal(): Tensor { return new Tensor(native.reciprocal(this.handle)); }
  sigmoid(): Tensor { return new Tensor(native.sigmoid(this.handle)); }
  tanh(): Tensor { return new Tensor(native.tanh(this.handle)); }
  relu(): Tensor { return new Tensor(native.relu(this.handle)); }
  /** In place (no new tensor): for inference where the input is not needed again. */
  relu_(): this { native.relu_(this.handle); return this; }
  isnan(): Tensor { return new Tensor(native.isnan(this.handle)); }
  isfinite(): Tensor { return new Tensor(native.isfinite(this.handle)); }
  /** Same shape and dtype, independent draws: 1 with probability p, else 0. */
  bernoulli(p: number): Tensor { return new Tensor(native.bernoulli(this.handle, p)); }
  /** Bounds: number, tensor (broadcast) or null for none. */
  clamp(lo: TensorLike | null, hi: TensorLike | null = null): Tensor {
    return new Tensor(native.clamp(this.handle, lo === null ? null : h(lo), hi === null ? null : h(hi)));
  }

  // ---- reductions -----------------------------------------------------------------------
  sum(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.sum(this.handle, dims, keepdim)); }
  mean(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.mean(this.handle, dims, keepdim)); }
  amax(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.amax(this.handle, dims, keepdim)); }
  amin(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.amin(this.handle, dims, keepdim)); }
  var(dims?: Dims, unbiased = true, keepdim = false): Tensor { return new Tensor(native.var(this.handle, dims ?? null, unbiased, keepdim)); }
  std(dims?: Dims, unbiased = true, keepdim = false): Tensor { return new Tensor(native.std(this.handle, dims ?? null, unbiased, keepdim)); }
  argmax(dim?: number, keepdim = false): Tensor { return new Tensor(native.argmax(this.handle, dim ?? null, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return new Tensor(native.argmin(this.handle, dim ?? null, keepdim)); }
  topkIndices(k: number, dim = -1): Tensor { return new Tensor(native.topkIndices(this.handle, k, dim)); }
  matmul(o: Tensor): Tensor { return new Tensor(native.matmul(this.handle, o.handle)); }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean { return native.allclose(this.handle, o.handle, rtol, atol) as boolean; }
  equal(o: Tensor): boolean { return native.equal(this.handle, o.handle) as boolean; }

  // ---- autograd -------------------------------------------------------------------------
  get requiresGrad(): boolean { return native.requiresGrad(this.handle) as boolean; }
  requiresGrad_(on = true): this {
    if (on && !isFloating(this.dtype)) throw new Error(`requiresGrad: only floating tensors can require gradients, got ${this.dtype}`);
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  /** The accumulated gradient (a new handle sharing its storage), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle) as NativeHandle | null;
    return g === null ? null : new Tensor(g);
  }
  zeroGrad(): void { native.zeroGrad(this.handle); }
  backward(gradient?: Tensor, retainGraph?: boolean): void { native.backward(this.handle, gradient?.handle, retainGraph); }
  detach(): Tensor { return new Tensor(native.detach(this.handle)); }
  get isLeaf(): boolean { return native.isLeaf(this.handle) as boolean; }

  // ---- in place (no new tensor; for optimizers, statistics and loading) -----------------
  copy_(src: Tensor): this { native.copy_(this.handle, src.handle); return this; }
  zero_(): this { native.zero_(this.handle); return this; }
  fill_(v: number): this { native.fill_(this.handle, v); return this; }
  /** this += alpha * o */
  add_(o: TensorLike, alpha = 1): this { native.add_(this.handle, h(o), alpha); return this; }
  mul_(o: TensorLike): this { native.mul_(this.handle, h(o)); return this; }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.addcmul_(this.handle, a.handle, b.handle, value); return this; }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.addcdiv_(this.handle, a.handle, b.handle, value); return this; }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this { native.lerp_(this.handle, end.handle, weight); return this; }
  clamp_(lo: number | null, hi: number | null = null): this { native.clamp_(this.handle, lo, hi); return this; }
}
