// Quantizers as standard ONNX ops. Our zero points and activation lower bounds are real-valued
// and ONNX's are integers, so the real-valued part stays outside the integer ops (exact):
//   weight:     DequantizeLinear(codes, s, axis 0) → Add(lower)            ŵ = code·s + lo
//   activation: Min(hi) → [Sub(lo)] → QuantizeLinear(s, 0) → DequantizeLinear(s, 0) → [Add(lo)]
// Bit-identical to the fused training op, code = round_half_even((clamp(x, lo, hi) − lo)/s):
// - QuantizeLinear rounds half to even and divides by the same float32 s = exp2(σ) (ATen's
//   exp2, as native/src/quantizer.cc); dequantizing is a multiply then an add in both.
// - The lower clamp is QuantizeLinear's saturation at 0 (round is monotone, so clamping before
//   or after rounding gives the same code); the upper one is Min(x, hi), always there although
//   the container's saturation would do when the top code fills it: ORT moves a QuantizeLinear
//   up across MaxPool and then runs the MaxPool on the integer type (none for uint2/uint4);
//   Min stops that. Min, not Clip: ORT (1.30) fuses Clip→QuantizeLinear and throws on a
//   uint4/uint2 zero point while doing so.
// - The Add(lower) after a weight's DequantizeLinear also keeps ORT from fusing DQ→Conv→Q into
//   QLinearConv, which has no 2-bit kernel: the graph loads at ORT's default optimization level.
import { Tensor, noGrad, scope } from '../../engine';
import { Quantizer } from '../../quant';
import { GraphBuilder, attr } from './graph-builder';
import { Container, codeBits, containerFor } from './containers';

export interface QuantizerExport {
  /** Module path of the quantizer (e.g. layer1.0.conv1.weight_quant). */
  name: string;
  role: 'weight' | 'activation';
  /** 'fp': passed through (disabled or a pruned weight); 'constant': a pruned activation. */
  mode: 'quantized' | 'fp' | 'constant';
  /** Bits the largest code needs, and the integer type that stores the codes. */
  bits?: number;
  container?: Container;
}

const floats = (t: Tensor): number[] => Array.from(t.contiguous().data() as Float32Array);

/** A weight (or bias) tensor through its quantizer; returns the graph value of ŵ. */
export function emitWeight(g: GraphBuilder, q: Quantizer, w: Tensor, name: string, opset: number): { value: string; info: QuantizerExport } {
  const info: QuantizerExport = { name: `${name}_quant`, role: 'weight', mode: 'fp' };
  // A pruned weight quantizer passes its (constant) weight through, as forward() does.
  if (!q.enabled || q.isPruned) return { value: g.floats(name, floats(w.detach()), w.shape), info };
  return noGrad(() => scope(() => {
    const codes = q.codes(w).toArray();
    const grid = q.grid(w);
    const max = codes.reduce((a, b) => Math.max(a, b), 0);
    const bits = codeBits(max);
    const container = containerFor(bits, opset);
    const perChannel = q.channels > 1;
    const c = perChannel ? w.size(0) : 1;
    const scaleDims = perChannel ? [c] : [];
    const lowerDims = perChannel ? [c, ...w.shape.slice(1).map(() => 1)] : [];
    const q8 = g.codes(`${name}_codes`, codes, w.shape, container);
    const s = g.floats(`${name}_step`, floats(grid.sigma.exp2()), scaleDims);
    const lo = g.floats(`${name}_lower`, floats(grid.lo), lowerDims);
    const dq = g.op('DequantizeLinear', [q8, s], `${name}_dq`, perChannel ? [attr.int('axis', 0)] : []);
    return { value: g.op('Add', [dq, lo], name), info: { ...info, mode: 'quantized' as const, bits, container } };
  }));
}

/** The activation x (a graph value) through its quantizer; returns the quantized value. */
export function emitActivation(g: GraphBuilder, q: Quantizer, x: string, name: string, opset: number): { value: string; info: QuantizerExport } {
  const info: QuantizerExport = { name, role: 'activation', mode: 'fp' };
  if (!q.enabled) return { value: x, info };
  if (q.isPruned) {
    // A zero-range input: the output is the constant seen in calibration, shaped like x.
    const lower = g.floats(`${name}_constant`, floats(q.lower.detach()), [1]);
    const shape = g.op('Shape', [x], `${name}_shape`);
    return { value: g.op('Expand', [lower, shape], name), info: { ...info, mode: 'constant' } };
  }
  return noGrad(() => scope(() => {
    const grid = q.grid(Tensor.zeros([1]));
    const [lo, hi, s] = [floats(grid.lo)[0], floats(grid.hi)[0], floats(grid.sigma.exp2())[0]];
    // The top code: round((hi − lo)/s), computed as the kernel computes a clamped input's code.
    const top = scope(() => grid.hi.sub(grid.lo).div(grid.sigma.exp2()).round().item());
    const bits = codeBits(top);
    const container = containerFor(bits, opset);
    let v = g.op('Min', [x, g.floats(`${name}_max`, [hi], [])], `${name}_clip`);
    const lower = lo !== 0 ? g.floats(`${name}_lower`, [lo], []) : null;
    if (lower) v = g.op('Sub', [v, lower], `${name}_shift`);
    const step = g.floats(`${name}_step`, [s], []);
    const zero = g.codes(`${name}_zero`, [0], [], container);
    const qv = g.op('QuantizeLinear', [v, step, zero], `${name}_q`);
    v = g.op('DequantizeLinear', [qv, step, zero], lower ? `${name}_dq` : name);
    if (lower) v = g.op('Add', [v, lower], name);
    return { value: v, info: { ...info, mode: 'quantized' as const, bits, container } };
  }));
}
