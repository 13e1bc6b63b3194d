// Small models for the ONNX tests (random weights, BatchNorm statistics moved off their
// defaults, quantizers calibrated on random data) and ONNX Runtime runs at default options.
import { Tensor, manualSeed, noGrad, scope } from '../../src/engine';
import { Model, SmallCNN, cifarResNet } from '../../src/models';
import { quantize, calibrate, quantizedLayers, QuantizeOptions } from '../../src/quant';
import { loadOrt } from '../../src/export/onnx';

export const NORM = { mean: [0.3], std: [0.35] };
export const SIZE = 12;

/** Random pixels in [0, 1) for n images [n, 1, SIZE, SIZE]. */
export function pixels(n: number, seed: number): Float32Array {
  manualSeed(seed);
  return scope(() => Float32Array.from(Tensor.rand([n, 1, SIZE, SIZE]).data() as Float32Array));
}

const normalized = (p: Float32Array, n: number): Tensor =>
  Tensor.from(p, [n, 1, SIZE, SIZE]).sub(NORM.mean[0]).div(NORM.std[0]);

export interface TestQuant extends Partial<QuantizeOptions> {
  /** Bits the calibrated weights and activations start at (their codes' width). */
  wStart: number;
  aStart: number;
}

/** smallcnn or resnet8 (1 channel, 10 classes); quantized and calibrated when q is given. */
export function makeModel(arch: 'smallcnn' | 'resnet8', q?: TestQuant, seed = 1): Model {
  manualSeed(seed);
  const model: Model = arch === 'smallcnn' ? new SmallCNN({ inChannels: 1, numClasses: 10 }) : cifarResNet(8, { inChannels: 1, numClasses: 10 });
  const data = pixels(32, seed + 100);
  // A few training-mode passes move the BatchNorm running statistics away from 0/1.
  model.train(true);
  noGrad(() => scope(() => { for (let i = 0; i < 3; i++) model.forward(normalized(data, 32)); }));
  model.train(false);
  if (q) {
    const { wStart, aStart, ...opts } = q;
    quantize(model, { wBits: wStart, aBits: aStart, ...opts });
    scope(() => calibrate(model, [normalized(data, 32)], { startBits: aStart }));
    for (const [, l] of quantizedLayers(model)) l.weight_quant.calibrateWeight(l.weight, wStart);
  }
  return model;
}

/** The model's logits through ONNX Runtime (node) at its default session options. */
export async function ortLogits(onnx: Uint8Array, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(onnx);
  try {
    const out = await session.run({ pixels: new ort.Tensor('float32', input, shape) });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}
