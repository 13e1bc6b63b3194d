// Calibration, step 3 of the procedure (GDNSQ.md §4.3): run a few batches through the FP network
// (every quantizer passes its input through) with every activation quantizer recording its input
// range, then start every quantizer at ~`startBits` bits: weights from their per-channel range,
// activations from the recorded range (b = min, unsigned with b = 0 when the input never goes
// below 0, pruned when it never varies), or, with actInit 'lsq', from the LSQ step rule.
import { Tensor, noGrad, scope, keep } from '../engine';
import { Module, BatchNorm2d } from '../nn';
import { FP_BITS, Quantizer, checkBits } from './quantizer';
import { QuantizedLayer, quantizedLayers } from './qlayer';

export type ActInit = 'minmax' | 'lsq';
export const ACT_INITS: readonly ActInit[] = ['minmax', 'lsq'];

export interface CalibrateOptions {
  /** Bit-width every quantizer starts from (default 10). */
  startBits?: number;
  /**
   * Activation steps: 'minmax' (default) spans the recorded range; 'lsq' sets
   * s = 2·mean|x − b|/√(2^B − 1) from one more pass of the first batch through the quantized
   * network in training mode, layer by layer (Quantizer.initStepLsq): the start a fixed-bit run
   * at 1–2 bits needs, where min-max grids leave almost every code at 0.
   */
  actInit?: ActInit;
  /** Stop after this many batches (default: all the iterable gives). */
  maxBatches?: number;
  /**
   * Data-parallel calibration: turns this rank's recorded input ranges (one per activation
   * quantizer, model order; {Infinity, -Infinity} where nothing was recorded) into the ranges of
   * every rank's batches together (min of mins, max of maxes).
   */
  agreeRanges?(ranges: { min: number; max: number }[]): { min: number; max: number }[];
}

export interface CalibratedQuantizer {
  /** Module path of the quantizer, e.g. 'layer1.0.conv1.act_quant'. */
  name: string;
  kind: 'weight' | 'activation';
  /** Activations: the input range seen. */
  range?: { min: number; max: number };
  signed?: boolean;
  /** Activations: the input's elements per sample (its size in a mean bit-width budget). */
  elements?: number;
  pruned: boolean;
  /** Bit-width right after calibration: weights from their codes, activations from the grid's capacity. */
  bits: number;
}

export class CalibrationReport {
  constructor(readonly batches: number, readonly startBits: number, readonly quantizers: CalibratedQuantizer[]) {}

  /** Each quantized layer's input elements per sample, by layer path (the activation sizes of a mean budget). */
  get actElements(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const q of this.quantizers) if (q.kind === 'activation' && q.elements !== undefined) out[q.name.replace(/\.act_quant$/, '')] = q.elements;
    return out;
  }

  toString(): string {
    const lines = [`calibrated on ${this.batches} batches, start bits ${this.startBits}:`];
    const width = Math.max(0, ...this.quantizers.map((q) => q.name.length));
    for (const q of this.quantizers) {
      const range = q.range ? `  input [${q.range.min.toPrecision(4)}, ${q.range.max.toPrecision(4)}] ${q.signed ? 'signed' : 'unsigned'}` : '';
      const bits = q.pruned ? 'pruned' : q.bits >= FP_BITS ? 'fp' : `${q.bits.toFixed(2)} bits`;
      lines.push(`  ${q.name.padEnd(width)}  ${bits}${range}`);
    }
    return lines.join('\n');
  }
}

/**
 * Calibrates every quantizer of a quantized model on `batches` (input tensors, or batches with
 * an `x`), run in eval mode without autograd; each batch is pulled and used inside its own
 * scope. The model's train/eval mode is restored afterwards.
 */
export function calibrate(model: Module, batches: Iterable<Tensor | { x: Tensor }>, o: CalibrateOptions = {}): CalibrationReport {
  const startBits = checkBits(o.startBits ?? 10, 'calibrate: startBits');
  const maxBatches = o.maxBatches ?? Infinity;
  if (!(maxBatches >= 1)) throw new Error(`calibrate: maxBatches must be at least 1, got ${o.maxBatches}`);
  const layers = quantizedLayers(model);
  if (!layers.length) throw new Error('calibrate: the model has no quantized layers (run quantize() first)');
  const actInit = o.actInit ?? 'minmax';
  if (!ACT_INITS.includes(actInit)) throw new Error(`calibrate: unknown actInit '${String(actInit)}' (${ACT_INITS.join(', ')})`);
  if (actInit === 'lsq' && o.agreeRanges) throw new Error('calibrate: actInit \'lsq\' is not available in data-parallel runs (each rank would set its own steps)');
  const { n, first } = recordRanges(model, layers, batches, maxBatches, actInit === 'lsq');
  try {
    if (n === 0) throw new Error('calibrate: no batches were given');
    if (o.agreeRanges) {
      const acts = layers.map(([, l]) => l.act_quant);
      const agreed = o.agreeRanges(acts.map((q) => q.calibrationRange ?? { min: Infinity, max: -Infinity }));
      acts.forEach((q, i) => q.setCalibrationRange(agreed[i].min <= agreed[i].max ? agreed[i] : null));
    }
    for (const [name, l] of layers) {
      if (!l.act_quant.calibrationRange) throw new Error(`calibrate: ${name} received no input during calibration (is it used by forward()?)`);
      l.act_quant.calibrateActivation(startBits);
      for (const [role, q] of weightQuantizers(l)) q.calibrateWeight(quantizedTensor(l, role), startBits);
    }
    if (first) initActivationsLsq(model, layers, first, startBits);
    return new CalibrationReport(n, startBits, layers.flatMap(([name, l]) => reportLayer(name, l)));
  } finally {
    first?.dispose();
  }
}

const weightQuantizers = (l: QuantizedLayer): ['weight' | 'bias', Quantizer][] =>
  l.quantizers().filter((e): e is ['weight' | 'bias', Quantizer] => e[0] !== 'act');
const quantizedTensor = (l: QuantizedLayer, role: 'weight' | 'bias'): Tensor => (role === 'weight' ? l.weight : l.bias!);

/**
 * Runs up to maxBatches batches in eval mode with every quantizer passing its input through (the
 * FP network) and the activation quantizers recording their input ranges; keepFirst: returns a
 * copy of the first batch's input (the caller disposes it).
 */
function recordRanges(model: Module, layers: [string, QuantizedLayer][], batches: Iterable<Tensor | { x: Tensor }>, maxBatches: number,
  keepFirst: boolean): { n: number; first: Tensor | null } {
  const all = layers.flatMap(([, l]) => l.quantizers().map(([, q]) => q));
  const wasTraining = model.training;
  let n = 0;
  let first: Tensor | null = null;
  try {
    model.eval();
    for (const [, l] of layers) l.act_quant.resetCalibration();
    for (const q of all) q.calibrating = true;
    const it = batches[Symbol.iterator]();
    noGrad(() => {
      while (n < maxBatches) {
        const done = scope(() => {
          const r = it.next();
          if (r.done) return true;
          const x = r.value instanceof Tensor ? r.value : r.value.x;
          model.forward(x);
          if (n === 0 && keepFirst) first = keep(x.clone());
          return false;
        });
        if (done) break;
        n++;
      }
    });
  } catch (e) {
    (first as Tensor | null)?.dispose();
    throw e;
  } finally {
    for (const q of all) q.calibrating = false;
    model.train(wasTraining);
  }
  return { n, first };
}

function reportLayer(name: string, l: QuantizedLayer): CalibratedQuantizer[] {
  const act = l.act_quant;
  return [
    {
      name: `${name}.act_quant`, kind: 'activation', range: act.calibrationRange!, signed: act.isSigned, elements: act.calibrationElements ?? undefined,
      pruned: act.isPruned, bits: act.enabled ? act.capacityBits() : FP_BITS,
    },
    ...weightQuantizers(l).map(([role, q]): CalibratedQuantizer => ({
      name: `${name}.${role}_quant`, kind: 'weight', pruned: q.isPruned, bits: q.enabled ? q.trueBits(quantizedTensor(l, role)) : FP_BITS,
    })),
  ];
}

/**
 * One forward pass of x in training mode (batch statistics, as the first training steps see),
 * each enabled activation quantizer setting its LSQ step from its input on the way, so each
 * layer is set after its predecessors. BatchNorm running statistics are left as they were.
 */
function initActivationsLsq(model: Module, layers: [string, QuantizedLayer][], x: Tensor, bits: number): void {
  const wasTraining = model.training;
  const bns = model.modules().filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  const saved = bns.map((bn) => bn.buffers().map((b) => keep(b.clone())));
  const armed = layers.map(([, l]) => l.act_quant).filter((q) => q.active);
  try {
    for (const q of armed) q.lsqInitBits = bits;
    model.train();
    noGrad(() => scope(() => { model.forward(x); }));
    const missed = layers.filter(([, l]) => l.act_quant.lsqInitBits !== null).map(([name]) => name);
    if (missed.length) throw new Error(`calibrate: ${missed.join(', ')} received no input in the LSQ initialisation pass`);
  } finally {
    for (const q of armed) q.lsqInitBits = null;
    bns.forEach((bn, i) => bn.buffers().forEach((b, j) => { b.copy_(saved[i][j]); saved[i][j].dispose(); }));
    model.train(wasTraining);
  }
}

/**
 * Each quantized layer's input elements per sample, by layer path, from one forward pass of
 * `x` in calibration mode (the model's outputs, parameters and calibration are left as they
 * were): the activation sizes of a mean bit-width budget, for a model calibrated before.
 */
export function activationElements(model: Module, x: Tensor): Record<string, number> {
  const layers = quantizedLayers(model);
  const wasTraining = model.training;
  const acts = layers.map(([, l]) => l.act_quant);
  const saved = acts.map((q) => q.calibrationRange);
  const out: Record<string, number> = {};
  try {
    model.eval();
    for (const q of acts) q.calibrating = true;
    noGrad(() => scope(() => { model.forward(x); }));
    for (const [name, l] of layers) {
      const n = l.act_quant.calibrationElements;
      if (n === null) throw new Error(`activationElements: ${name} received no input (is it used by forward()?)`);
      out[name] = n;
    }
  } finally {
    acts.forEach((q, i) => { q.calibrating = false; q.setCalibrationRange(saved[i]); });
    model.train(wasTraining);
  }
  return out;
}
