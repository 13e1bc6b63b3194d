// Bit-width metrics (GDNSQ.md §2, §4.5): the differentiable bit-widths the penalty acts on, the
// true bit-widths from the integer codes the quantizers produce, their summaries, and the
// convergence test "every quantizer's true bit-width ≤ its target".
import { noGrad, scope } from '../engine';
import { Module } from '../nn';
import { Quantizer } from './quantizer';
import { quantizedLayers } from './qlayer';

export type QuantizerRole = 'act' | 'weight' | 'bias';

export interface QuantizerBits {
  /** Module path of the quantizer, e.g. 'layer1.0.conv1.weight_quant'. */
  name: string;
  layer: string;
  role: QuantizerRole;
  target: number;
  pruned: boolean;
  /** Differentiable bit-width: mean and max over channels (activations: the one value). */
  bits: number;
  bitsMax: number;
  /** log2(max code − min code + 1) of the codes actually produced (per-channel weights: the widest channel). */
  trueBits: number;
  /** The same for the narrowest channel (per tensor: trueBits): a 0 here is a channel with one level, a constant. */
  trueMin: number;
  /**
   * Where trueBits comes from: the weights themselves; the activation codes seen in eval mode
   * since the last resetObservedCodes(); or, when none were seen, the grid's capacity (an upper
   * bound of any batch's true bits).
   */
  trueSource: 'weights' | 'eval' | 'capacity';
}

/** Every enabled (below 32-bit) quantizer of the model, in model order. */
export function quantizerBits(model: Module): QuantizerBits[] {
  const out: QuantizerBits[] = [];
  for (const [layer, l] of quantizedLayers(model)) {
    for (const [role, q] of l.quantizers()) {
      if (!q.enabled) continue;
      const operand = role === 'weight' ? l.weight : role === 'bias' ? l.bias! : undefined;
      const pruned = q.isPruned;
      const diff = pruned ? [0] : noGrad(() => scope(() => q.bits(operand).toArray()));
      const observed = role === 'act' && !pruned ? q.observedBits() : null;
      const range = pruned ? { min: 0, max: 0 } : operand ? q.trueBitsRange(operand) : null;
      const trueBits = range ? range.max : observed ?? q.capacityBits();
      out.push({
        name: `${layer}.${role}_quant`, layer, role, target: q.targetBits, pruned,
        bits: diff.reduce((a, b) => a + b, 0) / diff.length, bitsMax: Math.max(...diff),
        trueBits, trueMin: range ? range.min : trueBits, trueSource: operand ? 'weights' : observed !== null ? 'eval' : 'capacity',
      });
    }
  }
  return out;
}

export interface BitsStats {
  /** Number of quantizers summarised. */
  count: number;
  /** Differentiable bits: mean over quantizers of their channel mean, and the largest channel. */
  mean: number;
  max: number;
  trueMean: number;
  trueMax: number;
  /** The narrowest channel of any quantizer, in true bits. */
  trueMin: number;
}

export interface BitsSummary { weights: BitsStats; activations: BitsStats; converged: boolean }

function stats(entries: QuantizerBits[]): BitsStats {
  const n = entries.length;
  const mean = (f: (e: QuantizerBits) => number): number => (n ? entries.reduce((s, e) => s + f(e), 0) / n : 0);
  const max = (f: (e: QuantizerBits) => number): number => (n ? Math.max(...entries.map(f)) : 0);
  return { count: n, mean: mean((e) => e.bits), max: max((e) => e.bitsMax), trueMean: mean((e) => e.trueBits), trueMax: max((e) => e.trueBits), trueMin: n ? Math.min(...entries.map((e) => e.trueMin)) : 0 };
}

// log2 of an integer level count is compared with a (possibly fractional) target.
const TOLERANCE = 1e-9;

/** Converged: every quantizer's true bit-width is at most its target. */
export function isConverged(entries: QuantizerBits[]): boolean {
  return entries.every((e) => e.trueBits <= e.target + TOLERANCE);
}

/** Weight (incl. bias) and activation summaries, and convergence, from quantizerBits(). */
export function bitsSummary(entries: QuantizerBits[]): BitsSummary {
  return {
    weights: stats(entries.filter((e) => e.role !== 'act')),
    activations: stats(entries.filter((e) => e.role === 'act')),
    converged: isConverged(entries),
  };
}

export function converged(model: Module): boolean {
  return isConverged(quantizerBits(model));
}

/** Forgets the activation code ranges seen in eval mode (call after reading them, e.g. at epoch end). */
export function resetObservedCodes(model: Module): void {
  for (const m of model.modules()) if (m instanceof Quantizer) m.resetObserved();
}
