// Stateless neural-network ops over Tensors (libtorch's functional API, typed).
import { native, NativeHandle } from './native';
import { Tensor } from './tensor';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);
const opt = (t: Tensor | null | undefined): NativeHandle | null => (t ? t.handle : null);
export type Reduction = 'mean' | 'sum' | 'none';

export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number }
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return new Tensor(native.conv2d(x.handle, weight.handle, opt(bias), pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1));
}

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, opt(bias)));
}

export interface BatchNormOptions {
  weight?: Tensor | null; bias?: Tensor | null;
  runningMean?: Tensor | null; runningVar?: Tensor | null;
  training: boolean; momentum?: number; eps?: number;
}
/** In training mode the running statistics (if given) are updated in place, as in PyTorch. */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  return new Tensor(native.batchNorm(x.handle, opt(o.weight), opt(o.bias), opt(o.runningMean), opt(o.runningVar), o.training, o.momentum ?? 0.1, o.eps ?? 1e-5));
}

export interface PoolOptions { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean; countIncludePad?: boolean }
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions = {}): Tensor {
  return new Tensor(native.maxPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false));
}
export function avgPool2d(x: Tensor, kernel: Pair, o: PoolOptions = {}): Tensor {
  return new Tensor(native.avgPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), o.ceilMode ?? false, o.countIncludePad ?? true));
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(x.handle, pair(outputSize)));
}

export function adaptiveMaxPool2d(x: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveMaxPool2d(x.handle, pair(outputSize)));
}

export const relu = (x: Tensor): Tensor => x.relu();
export function softmax(x: Tensor, dim = -1): Tensor { return new Tensor(native.softmax(x.handle, dim)); }
export function logSoftmax(x: Tensor, dim = -1): Tensor { return new Tensor(native.logSoftmax(x.handle, dim)); }
export function dropout(x: Tensor, p: number, training: boolean): Tensor { return new Tensor(native.dropout(x.handle, p, training)); }
/** x * sigmoid(x), a custom op whose backward is written in C++ (the custom-op example). */
export function swish(x: Tensor): Tensor { return new Tensor(native.swish(x.handle)); }

/** target: int64 class indices [N] or float probabilities [N, C]. */
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = 'mean', labelSmoothing = 0): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, target.handle, reduction, labelSmoothing));
}
export function nllLoss(logProbs: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.nllLoss(logProbs.handle, target.handle, reduction));
}
/** KL(target || input) with input given as log-probabilities, as torch.nn.functional.kl_div. */
export function klDiv(input: Tensor, target: Tensor, reduction: Reduction | 'batchmean' = 'batchmean', logTarget = false): Tensor {
  return new Tensor(native.klDiv(input.handle, target.handle, reduction, logTarget));
}
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(a.handle, b.handle, reduction));
}

/** Error function, elementwise (ONNX Erf; the exact GELU is written with it). */
export function erf(x: Tensor): Tensor { return new Tensor(native.erf(x.handle)); }
/** GELU: x Φ(x), or its tanh approximation. */
export function gelu(x: Tensor, tanhApproximation = false): Tensor { return new Tensor(native.gelu(x.handle, tanhApproximation)); }
/** Layer normalization over the trailing dims `normalizedShape`, as torch.nn.functional.layer_norm. */
export function layerNorm(x: Tensor, normalizedShape: number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return new Tensor(native.layerNorm(x.handle, normalizedShape, opt(weight), opt(bias), eps));
}
/** Concatenation along dim. */
export function cat(xs: Tensor[], dim = 0): Tensor { return new Tensor(native.cat(xs.map((t) => t.handle), dim)); }
/** cond ? a : b, elementwise with broadcasting (cond a bool tensor). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return new Tensor(native.where(cond.handle, typeof a === 'number' ? a : a.handle, typeof b === 'number' ? b : b.handle));
}
