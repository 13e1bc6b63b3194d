// Parameter initialisation, after torch.nn.init. Every function fills its tensor in place
// (without recording autograd) from libtorch's global generator, so manualSeed() makes model
// construction reproducible, and returns the tensor.
import { Tensor, scope, noGrad } from '../engine';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';
export type FanMode = 'fan_in' | 'fan_out';
export interface KaimingOptions { a?: number; mode?: FanMode; nonlinearity?: Nonlinearity }

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear': case 'conv2d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    default: throw new Error(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

/** fan_in = size(1) · receptive field, fan_out = size(0) · receptive field (weights of 2+ dims). */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new Error(`init: fan in and fan out need a tensor with at least 2 dimensions, got shape [${s.join(', ')}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1] * receptive, fanOut: s[0] * receptive };
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => scope(() => { t.copy_(make()); }));
  return t;
}

/** U(a, b). */
export function uniform(t: Tensor, a = 0, b = 1): Tensor {
  return fill(t, () => Tensor.rand(t.shape, t.dtype).mul(b - a).add(a));
}

/** N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  return fill(t, () => Tensor.randn(t.shape, t.dtype).mul(std).add(mean));
}

export function constant(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}
export const zeros = (t: Tensor): Tensor => constant(t, 0);
export const ones = (t: Tensor): Tensor => constant(t, 1);

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const mode = o.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`init: unknown mode '${String(mode)}' (fan_in, fan_out)`);
  const { fanIn, fanOut } = fans(t);
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(mode === 'fan_in' ? fanIn : fanOut);
}

/** He uniform: U(±gain·√(3/fan)); with a = √5 this is PyTorch's default for conv and linear weights. */
export function kaimingUniform(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return uniform(t, -bound, bound);
}

/** He normal: N(0, gain²/fan). */
export function kaimingNormal(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, o));
}
