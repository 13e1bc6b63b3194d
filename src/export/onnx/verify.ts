// Runs an ONNX file in ONNX Runtime's Node binding (at its default session options, as a user
// would) next to gdnsq's own eval-mode forward on the same images, and compares top-1 and
// logits. onnxruntime-node is a dev/optional dependency: it is loaded only here, on demand.
import { Tensor, noGrad, scope } from '../../engine';
import { BatchLoader, ImageDataset, Normalize } from '../../data';
import { Model } from '../../models';
import { readOnnx } from './read';
import { ONNX_INPUT, ONNX_OUTPUT } from './export';

// The slice of onnxruntime-node's API used here, typed locally: the package is optional, so the
// published .d.ts files must not refer to its types (a user without it could not compile).
export interface OrtTensor { data: ArrayLike<number> | Float32Array; dims: readonly number[] }
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface Ort {
  InferenceSession: { create(model: string | Uint8Array, options?: { logSeverityLevel?: number }): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions: { common: string } };
}

export interface OnnxComparison {
  n: number;
  /** Test top-1 of the ONNX model in ONNX Runtime, and of the gdnsq model. */
  top1Onnx: number;
  top1Gdnsq: number;
  /** Images whose predicted class is the same in both. */
  samePredictions: number;
  /** max over classes of |logit difference|, over the images: largest, median, 99th percentile. */
  maxAbsLogitDiff: number;
  medianAbsLogitDiff: number;
  p99AbsLogitDiff: number;
  /** Images whose logits differ by more than 1e-4 somewhere (an activation code flipped by float rounding). */
  imagesOver1e4: number;
  ortVersion: string;
  opset: number;
  bytes: number;
}

export function loadOrt(): Ort {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as Ort;
  } catch {
    throw new Error('onnx verify needs onnxruntime-node (install it: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node)');
  }
}

/** An ONNX Runtime session at default options; a file ORT refuses is named in one line. */
export async function createSession(ort: Ort, file: string): Promise<OrtSession> {
  try {
    // Default options (as a user would load it); ORT's own error log is silenced, its message is rethrown as one line.
    return await ort.InferenceSession.create(file, { logSeverityLevel: 4 });
  } catch (e) {
    throw new Error(`${file}: ONNX Runtime ${ort.env.versions.common} cannot load it: ${(e as Error).message.split('\n')[0]}`);
  }
}

const argmax = (a: ArrayLike<number>, from: number, k: number): number => {
  let best = 0;
  for (let j = 1; j < k; j++) if (a[from + j] > a[from + best]) best = j;
  return best;
};

export interface CompareOptions { batchSize?: number; /** Only the first n images. */ limit?: number }

/**
 * Top-1 on `data` of the ONNX file (fed pixels in [0, 1]) and of `model` (fed the images
 * normalized as gdnsq eval does), and the largest logit difference between them.
 */
export async function compareOnnx(file: string, model: Model, data: ImageDataset, normalize: Normalize | undefined, o: CompareOptions = {}): Promise<OnnxComparison> {
  const onnx = readOnnx(file);
  const ort = loadOrt();
  const session = await createSession(ort, file);
  const batchSize = o.batchSize ?? 500;
  const n = Math.min(o.limit ?? data.n, data.n);
  const ds: ImageDataset = n === data.n ? data : { ...data, n, images: data.images.subarray(0, n * data.channels * data.height * data.width), labels: data.labels.subarray(0, n) };
  const raw = new BatchLoader({ dataset: ds, batchSize });
  const norm = new BatchLoader({ dataset: ds, batchSize, normalize });
  const k = model.config.numClasses;
  let onnxHits = 0, ourHits = 0, same = 0;
  const diffs = new Float64Array(n);
  model.train(false);
  for (let b = 0; b < raw.batchesPerEpoch; b++) {
    const pixels = raw.batchArrays(0, b);
    const x = pixels.x.slice(0, pixels.size * data.channels * data.height * data.width);
    const result = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [pixels.size, data.channels, data.height, data.width]) });
    const theirs = result[ONNX_OUTPUT].data as Float32Array;
    const ours = noGrad(() => scope(() => {
      const batch = norm.batch(0, b);
      return Float32Array.from(model.forward(batch.x).contiguous().data() as Float32Array);
    }));
    for (let i = 0; i < pixels.size; i++) {
      const label = data.labels[b * batchSize + i];
      const a = argmax(theirs, i * k, k), c = argmax(ours, i * k, k);
      onnxHits += a === label ? 1 : 0;
      ourHits += c === label ? 1 : 0;
      same += a === c ? 1 : 0;
      let d = 0;
      for (let j = i * k; j < (i + 1) * k; j++) d = Math.max(d, Math.abs(theirs[j] - ours[j]));
      diffs[b * batchSize + i] = d;
    }
  }
  await session.release();
  const sorted = diffs.slice().sort();
  const at = (p: number): number => sorted[Math.floor(p * (n - 1))];
  return {
    n, top1Onnx: onnxHits / n, top1Gdnsq: ourHits / n, samePredictions: same,
    maxAbsLogitDiff: at(1), medianAbsLogitDiff: at(0.5), p99AbsLogitDiff: at(0.99), imagesOver1e4: sorted.filter((d) => d > 1e-4).length,
    ortVersion: ort.env.versions.common, opset: onnx.opset, bytes: onnx.bytes };
}

/** Logits of `model` for raw pixels in [0, 1] ([n, C, H, W] row-major), normalized in the graph's way. */
export function gdnsqLogits(model: Model, pixels: Float32Array, shape: number[], normalize?: Normalize): Float32Array {
  model.train(false);
  return noGrad(() => scope(() => {
    let x = Tensor.from(pixels, shape);
    if (normalize) {
      const c = shape[1];
      x = x.sub(Tensor.from(normalize.mean, [1, c, 1, 1])).div(Tensor.from(normalize.std, [1, c, 1, 1]));
    }
    return Float32Array.from(model.forward(x).contiguous().data() as Float32Array);
  }));
}
