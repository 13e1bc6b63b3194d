// Checkpoint files. Two kinds, both safetensors (atomic write: temp file + rename):
// - model files: the plain state dict (torchvision names, loadable by PyTorch as is) with the
//   model card as JSON under the metadata key `gdnsq`;
// - training states (for --resume): `model.<key>` and `optim.<key>` tensors plus the trainer's
//   JSON state under the metadata key `trainer`.
import * as fs from 'fs';
import { Tensor } from '../engine';
import { saveSafetensors, loadSafetensors, loadSafetensorsMetadata } from '../engine/safetensors';

export interface ModelCard {
  model: string;
  args: Record<string, unknown>;
  dataset: string;
  normalize: { mean: number[]; std: number[] };
  [extra: string]: unknown;
}

export function saveModelFile(file: string, state: Record<string, Tensor>, card: ModelCard): void {
  saveSafetensors(file, state, { gdnsq: JSON.stringify(card) });
}

function parseJsonMeta(file: string, meta: Record<string, string>, key: string): unknown {
  const raw = meta[key];
  if (raw === undefined) throw new Error(`${file}: not a gdnsq checkpoint (no '${key}' metadata)`);
  try {
    return JSON.parse(raw);
  } catch {
    throw new Error(`${file}: corrupt checkpoint ('${key}' metadata is not valid JSON)`);
  }
}

function checkCard(file: string, card: unknown): ModelCard {
  const c = card as Partial<ModelCard> | null;
  if (!c || typeof c !== 'object' || typeof c.model !== 'string' || !c.normalize || !Array.isArray(c.normalize.mean))
    throw new Error(`${file}: corrupt checkpoint (model card lacks model/normalize)`);
  return c as ModelCard;
}

/** Loads a model file: its tensors (caller's scope) and card. */
export function loadModelFile(file: string): { state: Record<string, Tensor>; card: ModelCard } {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const { tensors, metadata } = loadSafetensors(file);
  return { state: tensors, card: checkCard(file, parseJsonMeta(file, metadata, 'gdnsq')) };
}

export interface TrainingState<S> {
  model: Record<string, Tensor>;
  optim: Record<string, Tensor>;
  /** libtorch's global generator state (absent in states written before it was saved). */
  rng?: Tensor;
  card: ModelCard;
  trainer: S;
}

export function saveTrainingState<S>(file: string, s: TrainingState<S>): void {
  const tensors: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(s.model)) tensors[`model.${k}`] = v;
  for (const [k, v] of Object.entries(s.optim)) tensors[`optim.${k}`] = v;
  if (s.rng) tensors['rng.torch'] = s.rng;
  saveSafetensors(file, tensors, { gdnsq: JSON.stringify(s.card), trainer: JSON.stringify(s.trainer) });
}

export function loadTrainingState<S>(file: string): TrainingState<S> {
  if (!fs.existsSync(file)) throw new Error(`resume state not found: ${file}`);
  const { tensors, metadata } = loadSafetensors(file);
  const model: Record<string, Tensor> = {};
  const optim: Record<string, Tensor> = {};
  let rng: Tensor | undefined;
  for (const [k, v] of Object.entries(tensors)) {
    if (k.startsWith('model.')) model[k.slice(6)] = v;
    else if (k.startsWith('optim.')) optim[k.slice(6)] = v;
    else if (k === 'rng.torch') rng = v;
  }
  return {
    model, optim, rng,
    card: checkCard(file, parseJsonMeta(file, metadata, 'gdnsq')),
    trainer: parseJsonMeta(file, metadata, 'trainer') as S,
  };
}

/** The model card of a training state, without loading its tensors. */
export function loadTrainingCard(file: string): ModelCard {
  if (!fs.existsSync(file)) throw new Error(`resume state not found: ${file}`);
  return checkCard(file, parseJsonMeta(file, loadSafetensorsMetadata(file), 'gdnsq'));
}
