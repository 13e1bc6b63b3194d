// What a model is built from: its registry name and constructor arguments. Models expose it
// as `model.config`, so a checkpoint can store it and createModel(config.name, config) rebuild it.
import { Module } from '../nn';

export interface ModelConfig {
  readonly name: string;
  readonly inChannels: number;
  readonly numClasses: number;
}

/** A model whose graph is built for one input size (square images of imageSize pixels). */
export interface SizedModelConfig extends ModelConfig {
  readonly imageSize: number;
}

export type ModelArgs = Partial<ModelConfig> & { imageSize?: number };

/** A classifier built by the registry: logits [N, numClasses] from images [N, inChannels, H, W]. */
export interface Model extends Module {
  readonly config: ModelConfig;
}

/** Fills defaults and rejects unknown or invalid arguments with one line naming them. */
export function resolveConfig(name: string, args: ModelArgs, defaults: { inChannels: number; numClasses: number }, more: string[] = []): ModelConfig {
  const known = ['name', 'inChannels', 'numClasses', ...more];
  const extra = Object.keys(args).filter((k) => !known.includes(k));
  if (extra.length) throw new Error(`${name}: unknown argument${extra.length > 1 ? 's' : ''} ${extra.join(', ')} (known: ${known.slice(1).join(', ')})`);
  if (args.name !== undefined && args.name !== name) throw new Error(`${name}: config names another model ('${args.name}')`);
  const config = { name, inChannels: args.inChannels ?? defaults.inChannels, numClasses: args.numClasses ?? defaults.numClasses };
  for (const k of ['inChannels', 'numClasses'] as const) {
    const v = config[k];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: ${k} must be a positive integer, got ${String(v)}`);
  }
  return Object.freeze(config);
}

/**
 * resolveConfig plus imageSize: 28 by default for one input channel (MNIST-like), else 32 (CIFAR);
 * `check` names what else the architecture needs of the size (null when it fits).
 */
export function resolveSizedConfig(name: string, args: ModelArgs, defaults: { inChannels: number; numClasses: number }, check: (size: number) => string | null): SizedModelConfig {
  const base = resolveConfig(name, args, defaults, ['imageSize']);
  const imageSize = args.imageSize ?? (base.inChannels === 1 ? 28 : 32);
  if (!Number.isInteger(imageSize) || imageSize <= 0) throw new Error(`${name}: imageSize must be a positive integer, got ${String(imageSize)}`);
  const why = check(imageSize);
  if (why) throw new Error(`${name}: imageSize ${imageSize} ${why}`);
  return Object.freeze({ ...base, imageSize });
}
