// Typed front of the native low-bit kernels (native/src/lowbit*.cc). Activations travel as
// float32 NCHW tensors with channels_last (NHWC) memory; the kernels' own layouts (bit planes,
// byte rows, packed weights) are opaque tensors produced and consumed here only.
import { Tensor } from '../engine';
import { native, NativeHandle } from '../engine/native';

/** bitserial: Σ_ij 2^(i+j)·popcount over bit planes (any width 1–8); int8: u8×s8 dot products (weights ≤ 7 bits). */
export type KernelMode = 'bitserial' | 'int8';
export const KERNEL_MODES: readonly KernelMode[] = ['bitserial', 'int8'];
/** The kernel of one convolution: a KernelMode, or the direct per-channel one of depthwise convolutions (which reads int8's byte codes). */
export type ConvKernel = KernelMode | 'depthwise';
const layout = (k: ConvKernel): KernelMode => (k === 'bitserial' ? 'bitserial' : 'int8');

/** The activation grid: codes round((clamp(x, lo, hi) − lo)/s), as the fake quantizer computes them. */
export interface ActGrid { lo: number; hi: number; s: number; bits: number }

export interface ConvGeometry { kernel: [number, number]; stride: [number, number]; padding: [number, number] }

/** Per-output-channel epilogue: y = alpha·Σq_a·q_w + beta·Σq_a + gamma (+ biasMap) (+ residual), then ReLU. */
export interface ConvEpilogue { alpha: Tensor; beta: Tensor; gamma: Tensor; biasMap?: Tensor | null; residual?: Tensor | null; relu?: boolean }

export function features(): { avx512Popcnt: boolean; avx512Vnni: boolean } {
  return native.lowbitFeatures() as { avx512Popcnt: boolean; avx512Vnni: boolean };
}

/** x as NCHW with NHWC memory (the same tensor's data when it already is). */
export function channelsLast(x: Tensor): Tensor { return new Tensor(native.channelsLast(x.handle)); }
export function isChannelsLast(x: Tensor): boolean { return native.isChannelsLast(x.handle) as boolean; }

/** Weight codes uint8 [O, C, KH, KW] ([C, 1, KH, KW] for 'depthwise') packed for a kernel. */
export function packWeights(codes: Tensor, bits: number, mode: ConvKernel): Tensor {
  return new Tensor(native.lowbitPackWeights(codes.handle, bits, mode));
}

/** The activation codes of x in the kernel's layout, with the zero padding of the convolution that reads them. */
export function quantizeActivations(x: Tensor, g: ActGrid, mode: ConvKernel, padding: [number, number]): Tensor {
  return new Tensor(layout(mode) === 'bitserial'
    ? native.lowbitQuantizePlanes(x.handle, g.lo, g.hi, g.s, g.bits, padding)
    : native.lowbitQuantizeBytes(x.handle, g.lo, g.hi, g.s, padding));
}

/** The convolution that will read a convolution's output, whose codes the epilogue then writes instead. */
export interface NextConv { mode: ConvKernel; grid: ActGrid; padding: [number, number] }

const nextArg = (n: NextConv): Record<string, unknown> => ({ mode: layout(n.mode), lo: n.grid.lo, hi: n.grid.hi, s: n.grid.s, bits: n.grid.bits, padding: n.padding });

/**
 * The convolution of codes (from quantizeActivations of an input of `inputShape`) with packed
 * weights: the fp32 output, or with `next` the codes of the output for that convolution.
 */
export function lowbitConv2d(mode: ConvKernel, acts: Tensor, abits: number, inputShape: number[], weights: Tensor, wbits: number,
  outChannels: number, geo: ConvGeometry, e: ConvEpilogue, next?: NextConv): Tensor {
  const n = next ? nextArg(next) : null;
  return new Tensor(native.lowbitConv2d(mode, acts.handle, abits, inputShape, weights.handle, wbits, outChannels,
    geo.kernel, geo.stride, geo.padding, e.alpha.handle, e.beta.handle, e.gamma.handle,
    e.biasMap?.handle ?? null, e.residual?.handle ?? null, e.relu ?? false, n, false));
}

/** lowbitConv2d with `next`, returning both the fp32 output and its codes for `next`. */
export function lowbitConv2dWithCodes(mode: ConvKernel, acts: Tensor, abits: number, inputShape: number[], weights: Tensor, wbits: number,
  outChannels: number, geo: ConvGeometry, e: ConvEpilogue, next: NextConv): [Tensor, Tensor] {
  const n = nextArg(next);
  const [out, codes] = native.lowbitConv2d(mode, acts.handle, abits, inputShape, weights.handle, wbits, outChannels,
    geo.kernel, geo.stride, geo.padding, e.alpha.handle, e.beta.handle, e.gamma.handle,
    e.biasMap?.handle ?? null, e.residual?.handle ?? null, e.relu ?? false, n, true) as [NativeHandle, NativeHandle];
  return [new Tensor(out), new Tensor(codes)];
}

const ROWS: ConvGeometry = { kernel: [1, 1], stride: [1, 1], padding: [0, 0] };

/**
 * A Linear layer on rows x [R, in]: their codes on grid g, then the sums over the input features
 * with weights (packWeights of the codes [out, in, 1, 1]) and the epilogue: [R, out]. Each row
 * is a one-pixel image, so the convolution kernels run it as a 1×1 convolution.
 */
export function lowbitLinear(mode: KernelMode, x: Tensor, g: ActGrid, weights: Tensor, wbits: number, outFeatures: number, e: ConvEpilogue): Tensor {
  if (x.ndim !== 2) throw new Error(`lowbitLinear: expected rows [R, in], got [${x.shape.join(', ')}]`);
  const img = x.contiguous().reshape([x.size(0), x.size(1), 1, 1]);
  return lowbitConv2d(mode, quantizeActivations(img, g, mode, [0, 0]), g.bits, img.shape, weights, wbits, outFeatures, ROWS, e).reshape([x.size(0), outFeatures]);
}

/** Output shape [N, O, Ho, Wo] of a convolution of an input [N, C, H, W]. */
export function convOutputShape(input: number[], outChannels: number, geo: ConvGeometry): number[] {
  const [n, , h, w] = input;
  return [n, outChannels, Math.floor((h + 2 * geo.padding[0] - geo.kernel[0]) / geo.stride[0]) + 1,
    Math.floor((w + 2 * geo.padding[1] - geo.kernel[1]) / geo.stride[1]) + 1];
}
