export { Tensor, TensorLike } from './tensor';
export { DType, DTYPES, TypedArray, isFloating } from './dtype';
export { scope, keep, scopeDepth } from './scope';
export * from './runtime';
export * as F from './functional';
export { saveSafetensors, loadSafetensors, loadSafetensorsMetadata, encodeSafetensors, decodeSafetensors } from './safetensors';
