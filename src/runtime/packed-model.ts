// A packed model ready to run at low-bit speed: the model a packed file (or a quantized
// checkpoint) describes, with every quantized convolution (plain or depthwise) replaced by a
// PackedConv2d on its integer codes (BatchNorm folded, ReLU and the residual add fused where the
// structure is known: runtime/fuse.ts) and every quantized Linear by a PackedLinear. Everything
// else (first conv, shortcuts, pooling, fc, a graph's weightless nodes) stays libtorch fp32.
import * as fs from 'fs';
import { Tensor, decodeSafetensors, noGrad, scope } from '../engine';
import { Module, BatchNorm2d } from '../nn';
import { Model } from '../models';
import { QConv2d, QLinear, QuantizedLayer, quantizedLayers } from '../quant';
import { ModelCard } from '../train';
import { BatchLoader, ImageDataset } from '../data';
import { loadModel } from '../export/load';
import { PackedHeader, checkPacked, isPackedFile, packState, unpackCodes, scaleKey, lowerKey } from '../export/packed-format';
import { ConvKernel, KERNEL_MODES, KernelMode, features, channelsLast } from './kernels';
import { PackedConv2d, PackedWeights, IdentityAfterFold, activationGrid, batchNormNameFor, isDepthwise } from './packed-conv';
import { PackedLinear } from './packed-linear';
import { foldFullPrecision } from './fold-fp';
import { fuseBlocks } from './fuse';

export type ModeChoice = 'auto' | KernelMode;

export interface RuntimeOptions {
  /** Kernel for every packed layer, or 'auto' (default): by code widths, see chooseMode. */
  mode?: ModeChoice;
  /** Fuse ReLU, residual adds and the next quantizer into the kernels' epilogue, fold the FP layers' BatchNorms (default true). */
  fuse?: boolean;
}

/** How one quantized layer runs. */
export interface RuntimeLayer { name: string; runtime: 'packed' | 'libtorch'; mode?: ConvKernel; wbits?: number; abits?: number; foldedBn?: string; reason?: string }

/**
 * 'auto': the bit-serial kernel costs wbits·abits popcount passes, the int8 kernel one VNNI
 * pass of a quarter of the row per 16 channels; at 1 and 2 bits bit-serial is ahead, from
 * 3 bits on int8 (bench/infer.ts measures both per layer).
 */
export function chooseMode(wbits: number, abits: number, choice: ModeChoice = 'auto'): KernelMode {
  if (choice !== 'auto') return choice;
  const f = features();
  if (!f.avx512Vnni || wbits > 7) return 'bitserial';
  return wbits * abits <= 4 ? 'bitserial' : 'int8';
}

export class PackedModel {
  constructor(readonly model: Model, readonly card: ModelCard, readonly layers: RuntimeLayer[], readonly file: string) {}

  /** Logits for normalized input [N, C, H, W] (what the model saw in training). */
  forward(x: Tensor): Tensor {
    return noGrad(() => scope(() => this.model.forward(channelsLast(x))));
  }

  /** The top-1 class of each image of x (normalized input). */
  predict(x: Tensor): Int32Array {
    return scope(() => Int32Array.from(this.forward(x).argmax(1).to('int32').data() as Int32Array));
  }

  /** Top-1 classes of every image of a dataset (raw bytes, normalized with the card's statistics). */
  classify(ds: ImageDataset, batchSize = 256): Int32Array {
    const loader = new BatchLoader({ dataset: ds, batchSize, normalize: this.card.normalize });
    const out = new Int32Array(ds.n);
    for (let b = 0; b < loader.batchesPerEpoch; b++) {
      scope(() => out.set(this.predict(loader.batch(0, b).x), b * batchSize));
    }
    return out;
  }

  dispose(): void { this.model.dispose(); }
}

/** The packed weights of a file: read from a packed file, or packed in memory from a quantized checkpoint. */
function packedWeights(file: string, model: Model): { state: Record<string, Tensor>; header: PackedHeader } {
  if (isPackedFile(file)) {
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
    return { state: tensors, header: checkPacked(file, metadata, tensors).header };
  }
  return packState(model);
}

/** The kernels take at most this many input channels (features) per layer. */
const MAX_CHANNELS = 512;

/** Why a quantized layer stays on libtorch (fake-quantized fp32), or null when the kernels run it. */
function whyLibtorch(layer: QuantizedLayer, packed: boolean): string | null {
  if (!(layer instanceof QConv2d) && !(layer instanceof QLinear)) return 'neither a convolution nor a linear';
  if (!packed) return 'weights not packed (full precision or pruned)';
  if (!layer.act_quant.enabled) return 'input not quantized';
  if (layer instanceof QLinear) return layer.inFeatures > MAX_CHANNELS ? `over ${MAX_CHANNELS} input features` : null;
  if (layer.dilation.some((d) => d !== 1)) return 'dilated';
  if (layer.groups !== 1 && !isDepthwise(layer)) return 'grouped (not depthwise)';
  return layer.inChannels > MAX_CHANNELS ? `over ${MAX_CHANNELS} input channels` : null;
}

/** Loads a packed file (or a quantized checkpoint) for fast inference. */
export function load(file: string, opts: RuntimeOptions = {}): PackedModel {
  if (opts.mode !== undefined && opts.mode !== 'auto' && !KERNEL_MODES.includes(opts.mode)) {
    throw new Error(`runtime: unknown kernel mode '${String(opts.mode)}' (auto, ${KERNEL_MODES.join(', ')})`);
  }
  const { model, card } = loadModel(file);
  try {
    model.eval();
    const layers = scope(() => {
      const q = quantizedLayers(model);
      if (!q.length) throw new Error(`${file}: not a quantized model (nothing for the packed runtime to run)`);
      const { state, header } = packedWeights(file, model);
      const byName = new Map(model.namedModules());
      const out: RuntimeLayer[] = [];
      for (const [name, layer] of q) {
        const l = header.layers[name];
        const reason = whyLibtorch(layer, l !== undefined);
        if (reason) { out.push({ name, runtime: 'libtorch', reason }); continue; }
        const dot = name.lastIndexOf('.');
        const parent = byName.get(name.slice(0, Math.max(0, dot))) as Module;
        const key = name.slice(dot + 1);
        const w: PackedWeights = { codes: unpackCodes(state, name, l), bits: l.bits, scale: state[scaleKey(name)], lower: state[lowerKey(name)] };
        const mode = chooseMode(l.bits, activationGrid(layer).bits, opts.mode);
        if (layer instanceof QLinear) {
          const packed = new PackedLinear(layer, w, mode);
          parent.registerModule(key, packed);
          layer.dispose();
          out.push({ name, runtime: 'packed', mode, wbits: l.bits, abits: packed.act.bits });
          continue;
        }
        const conv = layer as QConv2d;
        const bnKey = batchNormNameFor(key);
        const bnModule = bnKey ? parent.namedChildren().find(([n]) => n === bnKey)?.[1] : undefined;
        const bn = bnModule instanceof BatchNorm2d ? bnModule : null;
        const packed = new PackedConv2d(conv, w, bn, mode);
        parent.registerModule(key, packed);
        conv.dispose();
        if (bn && bnKey) {
          parent.registerModule(bnKey, new IdentityAfterFold());
          bn.dispose();
        }
        out.push({ name, runtime: 'packed', mode: packed.kernel, wbits: l.bits, abits: packed.act.bits, foldedBn: bn && bnKey ? `${name.slice(0, dot + 1)}${bnKey}` : undefined });
      }
      return out;
    });
    if (opts.fuse ?? true) {
      fuseBlocks(model);
      foldFullPrecision(model);
    }
    return new PackedModel(model, card, layers, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
}
