// The post-training quantization baseline (rows `W4A4-ptq`, …): calibrated min-max rounding,
// no training. The same quantize() and calibration data as a GDNSQ run, but every quantizer's
// grid is set at its own target bit-width from the calibration min/max (calibrateWeight /
// calibrateActivation with B = target: σ = log2((max − min)/(2^B − 1)), so the codes span
// exactly [0, 2^B − 1]); GDNSQ instead starts at 10 bits and descends.
import { Tensor, scope } from '../engine';
import { Model } from '../models';
import { quantize, calibrate, quantizedLayers, QuantizeOptions, QuantizeReport, CalibrationReport } from '../quant';
import { ModelCard, buildModel } from '../train';

export interface PtqOptions {
  /** The FP model (left untouched) and its card. */
  teacher: Model;
  teacherCard: ModelCard;
  quantize: QuantizeOptions;
  /** Calibration batches (input tensors or batches with an `x`): their min/max set the grids. */
  calibration: Iterable<Tensor | { x: Tensor }>;
  /** Stop after this many batches (default 4, as train.finetune's calibration). */
  calibBatches?: number;
}

export interface PtqResult {
  /** The quantized copy (the caller disposes it) and the card that rebuilds it (train.loadModel). */
  model: Model;
  card: ModelCard;
  report: QuantizeReport;
  calibration: CalibrationReport;
}

/** Quantizes a copy of the teacher with min-max grids at the target bit-widths. */
export function ptq(o: PtqOptions): PtqResult {
  const model = buildModel({ ...o.teacherCard, quant: undefined });
  try {
    model.loadStateDict(o.teacher.stateDict(), { strict: true });
    const report = quantize(model, o.quantize);
    // calibrate() records every activation's input range (and sets all grids at one bit-width);
    // each quantizer is then re-set from its recorded range at its own target, so mixed targets
    // (W1A32, per-layer ones) each get their own grid.
    const calibBatches = o.calibBatches ?? 4;
    const calibration = scope(() => calibrate(model, o.calibration, { startBits: 10, maxBatches: calibBatches }));
    for (const [, l] of quantizedLayers(model)) {
      const act = l.act_quant;
      if (act.enabled) act.calibrateActivation(act.targetBits);
      for (const [q, t] of [[l.weight_quant, l.weight], [l.bias_quant, l.bias]] as const) {
        if (q && t && q.enabled) q.calibrateWeight(t, q.targetBits);
      }
    }
    const card: ModelCard = { ...o.teacherCard, quant: { options: o.quantize }, ptq: { calibBatches: calibration.batches } };
    return { model, card, report, calibration };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
