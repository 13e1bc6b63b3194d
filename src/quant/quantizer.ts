// The GDNSQ quantizer (GDNSQ.md §2) as a small Module: it owns the learnable log2 step σ (and,
// for activations, the lower bound b and log2 range λ) and calls the fused fake-quantize op.
// Weights and activations are two configurations of this one class; layers receive quantizers
// by injection (QConv2d, QLinear), so a new layer type or gradient variant is one file.
//
// State that must survive a checkpoint lives in persistent buffers (target_bits, pruned,
// signed), not in JS fields: a plain loadStateDict() into a freshly quantized model restores
// everything, and forward() reads those flags from the buffers.
import { Tensor, noGrad, scope } from '../engine';
import { Module } from '../nn';
import { fakeQuantize, QuantMethod, QUANT_METHODS } from './fake-quant';

export { QuantMethod, QUANT_METHODS };
export type QuantizerKind = 'weight' | 'activation';
/** A target of this many bits or more means "not quantized" (the quantizer is the identity). */
export const FP_BITS = 32;

export function checkQuantMethod(m: string): QuantMethod {
  if (!(QUANT_METHODS as readonly string[]).includes(m)) throw new Error(`unknown quantizer method '${m}' (${QUANT_METHODS.join(', ')})`);
  return m as QuantMethod;
}

export function checkBits(bits: number, what: string): number {
  if (!(typeof bits === 'number' && bits > 0 && Number.isFinite(bits))) throw new Error(`${what} must be a positive number of bits, got ${bits}`);
  return bits;
}

/**
 * The lowest differentiable bit-width that keeps all ⌊2^T⌋ levels of a target T: the level count
 * round(2^B − 1) + 1 drops below ⌊2^T⌋ at B = log2(⌊2^T⌋ − ½); a margin of 0.05 bit keeps
 * rounding noise off that edge. T = 1 → 0.64, T = 2 → 1.86, T = 4 → 3.96.
 */
export function floorBits(target: number): number {
  return Math.log2(Math.max(2, Math.floor(2 ** target + 1e-9)) - 0.5) + FLOOR_MARGIN;
}
const FLOOR_MARGIN = 0.05;

export interface QuantizerOptions {
  kind: QuantizerKind;
  /** Target bit-width (any positive number; ≥ 32 = not quantized). */
  bits: number;
  /** Weights: quantize per output channel (axis 0) with this many channels; omitted = per tensor. */
  channels?: number;
  method?: QuantMethod;
  /** EWGS scale δ (method 'ewgs'). */
  delta?: number;
  /**
   * Weights: whether the bit-width B_w = log2(max − min + s) − σ passes its gradient to the
   * channel's extreme weights (default true, as the authors' code: the penalty then narrows the
   * weight range as well as growing the step); false detaches the range.
   */
  rangeGrad?: boolean;
  /**
   * Activations: learn the lower bound b even when calibration saw no negative input (b then
   * starts at the calibration minimum), as the authors' code does for every quantizer of the
   * published ResNet-20; default false: b fixed at 0 for non-negative inputs.
   */
  learnLower?: boolean;
}

/** The quantization grid of one call: x̂ = round((clamp(x, lo, hi) − lo)/s)·s + lo, s = 2^sigma. */
export interface Grid { lo: Tensor; hi: Tensor; sigma: Tensor }

export interface Range { min: number; max: number }

export class Quantizer extends Module {
  readonly kind: QuantizerKind;
  /** Number of per-channel steps (1 = per tensor). */
  readonly channels: number;
  method: QuantMethod;
  delta: number | undefined;
  rangeGrad: boolean;
  learnLower: boolean;
  /**
   * While true, forward() returns its input unchanged, and an activation quantizer records the
   * running min/max of its inputs: calibration measures the FP network's ranges.
   */
  calibrating = false;
  /**
   * When set, the next forward() first sets this activation quantizer's step from that input
   * for this many bits, LSQ-style (initStepLsq), then quantizes it; it clears itself.
   */
  lsqInitBits: number | null = null;
  private calib: Range | null = null;
  private calibElements: number | null = null;
  private observed: Range | null = null;

  declare log2_step: Tensor;
  declare lower: Tensor;
  declare log2_range: Tensor;
  declare target_bits: Tensor;
  declare pruned: Tensor;
  declare signed: Tensor;

  constructor(o: QuantizerOptions) {
    super();
    if (o.kind !== 'weight' && o.kind !== 'activation') throw new Error(`Quantizer: kind must be 'weight' or 'activation', got '${String(o.kind)}'`);
    this.kind = o.kind;
    this.channels = o.channels ?? 1;
    if (!(Number.isInteger(this.channels) && this.channels >= 1)) throw new Error(`Quantizer: channels must be a positive integer, got ${o.channels}`);
    if (o.kind === 'activation' && this.channels !== 1) throw new Error('Quantizer: activation quantizers are per tensor (channels must be 1)');
    this.method = checkQuantMethod(o.method ?? 'noise');
    this.delta = o.delta;
    this.rangeGrad = o.rangeGrad ?? true;
    this.learnLower = o.learnLower ?? false;
    const bits = checkBits(o.bits, 'Quantizer: bits');
    // Uncalibrated defaults: a 10-bit grid on [0, 1); calibration replaces them.
    if (o.kind === 'activation') {
      this.registerParameter('lower', Tensor.zeros([1]));
      this.registerParameter('log2_range', Tensor.zeros([1]));
      this.registerParameter('log2_step', Tensor.full([1], -10));
    } else {
      this.registerParameter('log2_step', Tensor.full([this.channels], -10));
    }
    this.registerBuffer('target_bits', Tensor.scalar(bits));
    this.registerBuffer('pruned', Tensor.zeros([], 'uint8'));
    // Activations start signed (b learnable); calibration makes post-ReLU inputs unsigned.
    if (o.kind === 'activation') this.registerBuffer('signed', Tensor.ones([], 'uint8'));
  }

  // ---- state flags (read from the buffers, so loaded checkpoints take effect) -----------
  get targetBits(): number { return this.target_bits.item(); }
  set targetBits(bits: number) {
    checkBits(bits, 'Quantizer: target bits');
    this.target_bits.fill_(bits);
  }
  /** False for a target of 32 bits or more: the quantizer passes its input through. */
  get enabled(): boolean { return this.targetBits < FP_BITS; }
  get isPruned(): boolean { return this.pruned.item() !== 0; }
  /** Activations: whether the lower bound b is learnable (false: b = 0 for inputs ≥ 0). */
  get isSigned(): boolean { return this.kind === 'activation' && this.signed.item() !== 0; }
  /** Enabled and not pruned: its bit-width is learned and constrained. */
  get active(): boolean { return this.enabled && !this.isPruned; }
  /** The axis of x that carries the channels (null: per tensor). */
  get axis(): number | null { return this.channels > 1 ? 0 : null; }

  // ---- forward ------------------------------------------------------------------------
  override forward(x: Tensor): Tensor {
    if (this.calibrating) {
      if (this.kind === 'activation') this.record(x);
      return x;
    }
    if (!this.enabled) return x;
    if (this.lsqInitBits !== null) {
      const bits = this.lsqInitBits;
      this.lsqInitBits = null;
      if (!this.isPruned) this.initStepLsq(x, bits);
    }
    if (this.isPruned) {
      // A zero-range input (GDNSQ.md §4.3): the output is the constant seen in calibration.
      return this.kind === 'activation' ? this.lower.detach().expand(x.shape).contiguous() : x.detach();
    }
    const g = this.grid(x);
    const y = fakeQuantize(x, g.lo, g.hi, g.sigma, { axis: this.axis, method: this.method, delta: this.delta, training: this.training });
    if (!this.training && this.kind === 'activation') this.observe(x, g);
    return y;
  }

  /** The grid for input x: weights use their own (detached) min/max, activations b and λ. */
  grid(x: Tensor): Grid {
    if (this.kind === 'activation') return this.activationGrid();
    this.checkWeight(x);
    const w = x.detach();
    if (this.channels === 1) return { lo: w.amin().reshape([1]), hi: w.amax().reshape([1]), sigma: this.log2_step };
    const dims = w.shape.map((_, i) => i).slice(1);
    return { lo: w.amin(dims), hi: w.amax(dims), sigma: this.log2_step };
  }

  private activationGrid(): Grid {
    const lo = this.isSigned ? this.lower : this.lower.detach();
    // hi = b + 2^λ − s, as the reference. project() keeps B_a = λ − σ above floorBits(target)
    // through fine-tuning, hence hi > b there and λ and σ keep their gradients at every
    // bit-width. The clamp at b is for checkpoints written before the projection existed, whose
    // collapsed quantizers (B_a < 0, one level: a constant output) must still evaluate as saved.
    const hi = lo.add(this.log2_range.exp2().sub(this.log2_step.exp2()).clamp(0, null));
    return { lo, hi, sigma: this.log2_step };
  }

  private checkWeight(w: Tensor): void {
    if (this.channels > 1 && (w.ndim < 1 || w.size(0) !== this.channels)) {
      throw new Error(`Quantizer: weight quantizer has ${this.channels} channels, got a weight of shape [${w.shape.join(', ')}]`);
    }
  }

  // ---- the band of the target's levels ------------------------------------------------
  /**
   * After an optimizer step: raises the differentiable bit-width to floorBits(floorTarget) where
   * it fell below (activations: λ ≥ σ + floor; weights, per channel: s ≤ range/(2^floor − 1)),
   * so the quantizer never loses its target's last level. An exterior penalty only pushes
   * down; without this floor a quantizer driven below log2(1.5) has one level, a constant
   * output, and no gradient that could bring it back. `weight` is the layer's weight (weights).
   */
  project(floorTarget: number = this.targetBits, weight?: Tensor): void {
    if (!this.active) return;
    const floor = floorBits(floorTarget);
    noGrad(() => scope(() => {
      if (this.kind === 'activation') {
        this.log2_range.copy_(this.log2_range.maximum(this.log2_step.add(floor)));
        return;
      }
      if (!weight) throw new Error('Quantizer.project: a weight quantizer needs the weight');
      const g = this.grid(weight);
      const range = g.hi.sub(g.lo).reshape(this.log2_step.shape);
      const most = range.clamp(1e-30, null).div(2 ** floor - 1).log2();
      this.log2_step.copy_(Tensor.where(range.gt(0), this.log2_step.minimum(most), this.log2_step));
    }));
  }

  // ---- bit-widths ---------------------------------------------------------------------
  /**
   * The differentiable bit-width (GDNSQ.md §2, §8): weights B_w = log2(max − min + s) − σ per
   * channel (x = the weight; its max and min carry the gradient unless rangeGrad is false),
   * activations B_a = λ − σ ([1]).
   */
  bits(x?: Tensor): Tensor {
    if (this.kind === 'activation') return this.log2_range.sub(this.log2_step);
    if (!x) throw new Error('Quantizer.bits: a weight quantizer needs the weight');
    this.checkWeight(x);
    const w = this.rangeGrad ? x : x.detach();
    const dims = w.shape.map((_, i) => i).slice(1);
    const range = this.channels === 1 ? w.amax().sub(w.amin()).reshape([1]) : w.amax(dims).sub(w.amin(dims));
    return range.add(this.log2_step.exp2()).log2().sub(this.log2_step);
  }

  /**
   * The integer codes the quantizer produces for x (int64, same shape): round((x̂ − lo)/s),
   * recovered from the fused op's own output so they are exactly the codes it used.
   */
  codes(x: Tensor): Tensor {
    return noGrad(() => scope(() => {
      if (!this.enabled) throw new Error('Quantizer.codes: the quantizer is disabled (32 bits), it produces no codes');
      if (this.isPruned) return Tensor.zeros(x.shape, 'int64');
      const g = this.grid(x);
      const y = fakeQuantize(x, g.lo, g.hi, g.sigma, { axis: this.axis, method: this.method, training: false });
      const along = this.channels > 1 ? x.shape.map((d, i) => (i === 0 ? d : 1)) : [1];
      return y.sub(g.lo.reshape(along)).div(g.sigma.exp2().reshape(along)).round().to('int64');
    }));
  }

  /** log2(max code − min code + 1) of x's codes; per-channel weights: the widest channel. */
  trueBits(x: Tensor): number {
    return this.trueBitsRange(x).max;
  }

  /** log2(max code − min code + 1) of the narrowest and the widest channel (per tensor: both the same). */
  trueBitsRange(x: Tensor): { min: number; max: number } {
    return scope(() => {
      const c = this.codes(x);
      if (this.channels === 1) {
        const b = Math.log2(c.amax().item() - c.amin().item() + 1);
        return { min: b, max: b };
      }
      const dims = c.shape.map((_, i) => i).slice(1);
      const span = dims.length ? c.amax(dims).sub(c.amin(dims)) : c.sub(c);
      return { min: Math.log2(span.amin().item() + 1), max: Math.log2(span.amax().item() + 1) };
    });
  }

  /** Activations: the most levels the grid can produce, log2(round((hi − lo)/s) + 1). */
  capacityBits(): number {
    if (this.kind !== 'activation') throw new Error('Quantizer.capacityBits: only for activation quantizers (weights: trueBits(weight))');
    if (this.isPruned) return 0;
    return noGrad(() => scope(() => {
      const g = this.activationGrid();
      return Math.log2(g.hi.sub(g.lo).div(g.sigma.exp2()).round().item() + 1);
    }));
  }

  // Eval-mode record of the code range: codes are monotone in x, so the extreme inputs give
  // the extreme codes without a pass over the codes of every element.
  private observe(x: Tensor, g: Grid): void {
    noGrad(() => scope(() => {
      const ends = Tensor.stack([x.amin(), x.amax()]).reshape([2]);
      const y = fakeQuantize(ends, g.lo.detach(), g.hi.detach(), g.sigma.detach(), { axis: null, method: this.method, training: false });
      const c = y.sub(g.lo.detach()).div(g.sigma.detach().exp2()).round().toArray();
      this.observed = this.observed ? { min: Math.min(this.observed.min, c[0]), max: Math.max(this.observed.max, c[1]) } : { min: c[0], max: c[1] };
    }));
  }

  /** Activations: log2 of the code range seen in eval mode since the last reset (null: none seen). */
  observedBits(): number | null {
    return this.observed ? Math.log2(this.observed.max - this.observed.min + 1) : null;
  }
  resetObserved(): void { this.observed = null; }

  // ---- calibration (GDNSQ.md §4.3) ----------------------------------------------------
  private record(x: Tensor): void {
    const [mn, mx] = noGrad(() => scope(() => [x.amin().item(), x.amax().item()]));
    this.calib = this.calib ? { min: Math.min(this.calib.min, mn), max: Math.max(this.calib.max, mx) } : { min: mn, max: mx };
    // The input's size per sample (dim 0 is the batch): an activation's share of a size budget.
    this.calibElements = x.ndim > 0 && x.size(0) > 0 ? x.numel / x.size(0) : x.numel;
  }

  /** The input range recorded in calibration mode (null: nothing recorded). */
  get calibrationRange(): Range | null { return this.calib; }
  /** Elements per sample of the input last seen in calibration mode (null: nothing recorded). */
  get calibrationElements(): number | null { return this.calibElements; }
  resetCalibration(): void { this.calib = null; this.calibElements = null; }
  /** Replaces the recorded range (data-parallel calibration: the ranges of all ranks' shards; after a pass that only measured sizes). */
  setCalibrationRange(r: Range | null): void { this.calib = r ? { min: r.min, max: r.max } : null; }

  /**
   * Activations, after calibration batches: b = min (0 and fixed when min ≥ 0, unless
   * learnLower), σ = log2((max − b)/(2^B − 1)), λ = σ + B; a zero range marks it pruned.
   */
  calibrateActivation(startBits: number): void {
    if (this.kind !== 'activation') throw new Error('Quantizer.calibrateActivation: not an activation quantizer');
    checkBits(startBits, 'calibration start bits');
    const r = this.calib;
    if (!r) throw new Error('Quantizer.calibrateActivation: no input was recorded (run batches in calibration mode first)');
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`Quantizer.calibrateActivation: input range [${r.min}, ${r.max}] is not finite`);
    const signed = r.min < 0 || this.learnLower;
    const pruned = r.max <= r.min;
    const b = signed || pruned ? r.min : 0;
    noGrad(() => {
      this.signed.fill_(signed ? 1 : 0);
      this.pruned.fill_(pruned ? 1 : 0);
      this.lower.fill_(b);
      if (pruned) return;
      const sigma = Math.log2((r.max - b) / (2 ** startBits - 1));
      this.log2_step.fill_(sigma);
      this.log2_range.fill_(sigma + startBits);
    });
  }

  /**
   * Activations, after calibrateActivation(): the LSQ step initialisation (Esser et al. 2020),
   * s = 2·mean|x − b| / √(2^B − 1) for B bits, with λ = σ + B. Min-max grids at 1–2 bits
   * put the first threshold at half the maximum, above almost every post-ReLU input (0.2–0.6 %
   * of the codes are 1 on the W1A1 teacher): the outputs are nearly constant and training starts
   * from chance. The LSQ step balances the codes. x is this quantizer's input in the quantized network
   * (calibrate() runs it layer by layer, so each layer sees its quantized predecessors).
   */
  initStepLsq(x: Tensor, bits: number): void {
    if (this.kind !== 'activation') throw new Error('Quantizer.initStepLsq: only for activation quantizers (a weight grid is tied to the weight range)');
    checkBits(bits, 'Quantizer.initStepLsq: bits');
    const mean = noGrad(() => scope(() => x.detach().sub(this.lower.detach()).abs().mean().item()));
    if (!(mean > 0 && Number.isFinite(mean))) throw new Error(`Quantizer.initStepLsq: mean |x − b| is ${mean}, no step can be set from it`);
    const sigma = Math.log2((2 * mean) / Math.sqrt(2 ** bits - 1));
    noGrad(() => {
      this.log2_step.fill_(sigma);
      this.log2_range.fill_(sigma + bits);
    });
  }

  /**
   * Weights: σ = log2((max − min)/(2^B − 1)) per channel; a channel of zero range takes the
   * whole tensor's step (it has 0 bits whatever σ is), and a constant weight marks it pruned.
   */
  calibrateWeight(w: Tensor, startBits: number): void {
    if (this.kind !== 'weight') throw new Error('Quantizer.calibrateWeight: not a weight quantizer');
    checkBits(startBits, 'calibration start bits');
    this.checkWeight(w);
    noGrad(() => scope(() => {
      const g = this.grid(w);
      const levels = 2 ** startBits - 1;
      const whole = w.amax().sub(w.amin());
      const wholeRange = whole.item();
      if (!Number.isFinite(wholeRange)) throw new Error('Quantizer.calibrateWeight: the weight is not finite');
      this.pruned.fill_(wholeRange > 0 ? 0 : 1);
      if (wholeRange <= 0) return;
      const range = g.hi.sub(g.lo);
      const sigma = Tensor.where(range.gt(0), range, whole).div(levels).log2();
      this.log2_step.copy_(sigma.reshape(this.log2_step.shape));
    }));
  }

  override extraRepr(): string {
    const bits = this.targetBits;
    const parts = [this.kind, bits >= FP_BITS ? 'fp' : `bits=${bits}`];
    if (this.channels > 1) parts.push(`per_channel=${this.channels}`);
    if (bits < FP_BITS) parts.push(`method=${this.method}`);
    if (this.kind === 'weight' && !this.rangeGrad) parts.push('range_detached');
    if (this.isPruned) parts.push('pruned');
    if (this.kind === 'activation' && !this.isSigned) parts.push('unsigned');
    return parts.join(', ');
  }
}
