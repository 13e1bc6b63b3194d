// `gdnsq import`: a PyTorch-trained FP model with torchvision naming (a state dict as
// .safetensors, or a torch.save()d .pt read without running pickled code) → a gdnsq checkpoint
// with its model card, ready for `gdnsq quantize`. The state dict must fit the named
// architecture exactly; the first missing, mis-shaped or unexpected key is named.
import * as path from 'path';
import { Tensor, scope } from '../engine';
import { loadSafetensors } from '../engine/safetensors';
import { createModel, Model } from '../models';
import { ModelCard, saveModelFile } from '../train';
import { readTorchStateDict } from './torch-pt';

export interface ImportOptions {
  /** A .safetensors state dict, or a .pt/.pth file written by torch.save(model.state_dict()). */
  from: string;
  model: string;
  inChannels: number;
  numClasses: number;
  /** The per-channel input normalization the model was trained with. */
  normalize: { mean: number[]; std: number[] };
  dataset?: string;
  out: string;
}

/** Reads a state dict by its extension (tensors in the caller's scope); a DataParallel `module.` prefix is dropped. */
export function readStateDict(file: string): Record<string, Tensor> {
  const ext = path.extname(file).toLowerCase();
  const sd = ext === '.pt' || ext === '.pth' ? readTorchStateDict(file) : loadSafetensors(file).tensors;
  const keys = Object.keys(sd);
  if (!keys.length || !keys.every((k) => k.startsWith('module.'))) return sd;
  return Object.fromEntries(keys.map((k) => [k.slice('module.'.length), sd[k]]));
}

/** One line naming the first key that does not fit, or null when the state dict fits exactly. */
export function stateDictMismatch(model: Model, sd: Record<string, Tensor>): string | null {
  const own = model.stateDict();
  for (const [k, t] of Object.entries(own)) {
    if (!Object.prototype.hasOwnProperty.call(sd, k)) return `missing key '${k}'`;
    const s = sd[k].shape;
    if (s.length !== t.shape.length || s.some((d, i) => d !== t.shape[i])) return `key '${k}' has shape [${s.join(', ')}], ${model.config.name} needs [${t.shape.join(', ')}]`;
  }
  const extra = Object.keys(sd).find((k) => !Object.prototype.hasOwnProperty.call(own, k));
  return extra === undefined ? null : `unexpected key '${extra}'`;
}

/**
 * PyTorch's load_state_dict(strict=True) accepts a state dict without BatchNorm's
 * `num_batches_tracked` (older PyTorch wrote none, and users strip them): the counter then
 * starts at 0, as here. It is only read when momentum is null (a cumulative average).
 */
export function withBatchCounters(model: Model, sd: Record<string, Tensor>): Record<string, Tensor> {
  const out = { ...sd };
  for (const k of Object.keys(model.stateDict())) {
    if (k.endsWith('num_batches_tracked') && !Object.prototype.hasOwnProperty.call(out, k)) out[k] = Tensor.zeros([], 'int64');
  }
  return out;
}

/** Writes the checkpoint and returns its card. */
export function importStateDict(o: ImportOptions): ModelCard {
  const { mean, std } = o.normalize;
  if (mean.length !== o.inChannels || std.length !== o.inChannels || std.some((s) => !(s > 0)) || mean.some((m) => !Number.isFinite(m))) {
    throw new Error(`import: normalize needs ${o.inChannels} mean and ${o.inChannels} std values (one per input channel, std > 0), got mean [${mean.join(', ')}], std [${std.join(', ')}]`);
  }
  const model = createModel(o.model, { inChannels: o.inChannels, numClasses: o.numClasses });
  try {
    return scope(() => {
      const sd = withBatchCounters(model, readStateDict(o.from));
      const bad = stateDictMismatch(model, sd);
      if (bad) throw new Error(`${o.from}: does not fit ${o.model} (in ${o.inChannels}, classes ${o.numClasses}): ${bad}`);
      const nonFinite = Object.entries(sd).find(([, t]) => t.dtype.startsWith('float') && t.isfinite().logicalNot().sum().item() > 0);
      if (nonFinite) throw new Error(`${o.from}: tensor '${nonFinite[0]}' holds NaN or infinity`);
      model.loadStateDict(sd, { strict: true });
      const card: ModelCard = {
        model: o.model, args: { ...model.config }, dataset: o.dataset as string, normalize: { mean, std },
        imported: { from: path.basename(o.from) },
      };
      if (o.dataset === undefined) delete (card as Partial<ModelCard>).dataset;
      saveModelFile(o.out, model.stateDict(), card);
      return card;
    });
  } finally {
    model.dispose();
  }
}
