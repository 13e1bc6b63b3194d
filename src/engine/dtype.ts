// The dtypes the engine exposes, and the typed arrays that carry their data to and from JS.

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool'];

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1,
};

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  throw new Error('unsupported typed array (Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array)');
}

export function checkDType(d: string): DType {
  if (!(DTYPES as readonly string[]).includes(d)) throw new Error(`unknown dtype '${d}' (${DTYPES.join(', ')})`);
  return d as DType;
}
