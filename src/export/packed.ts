// The packed model file (docs/packed-format.md): one safetensors file, no code, holding each
// quantized layer's integer weight codes bit-packed at their true width, the fp32 steps and
// lower bounds, everything else of the checkpoint as is, and the model card. Loading restores
// weight = code·s + lo, bit for bit what the fake quantizer produced, so a packed model's
// eval-mode forward is the checkpoint's.
import * as fs from 'fs';
import { scope } from '../engine';
import { saveSafetensors } from '../engine/safetensors';
import { Model } from '../models';
import { ModelCard } from '../train';
import { loadModel } from './load';
import { packState, isPackedFile, PACKED_FORMAT, PackedHeader } from './packed-format';
import { packedBytes } from './bitpack';

/** Sizes of the packed weights: codes + steps + lower bounds vs the same weights in float32. */
export interface PackedLayerSize { name: string; shape: number[]; bits: number; params: number; packedBytes: number; fp32Bytes: number }

export function packedSizes(header: PackedHeader): PackedLayerSize[] {
  return Object.entries(header.layers).map(([name, l]) => {
    const params = l.shape.reduce((a, b) => a * b, 1);
    return { name, shape: l.shape, bits: l.bits, params, packedBytes: packedBytes(params, l.bits) + 8 * l.channels, fp32Bytes: 4 * params };
  });
}

/** Writes model (a quantized gdnsq model) with its card as a packed file; returns the header. */
export function savePacked(model: Model, card: ModelCard, file: string): PackedHeader {
  return scope(() => {
    const { state, header } = packState(model);
    saveSafetensors(file, state, { gdnsq: JSON.stringify(card), format: PACKED_FORMAT, packed: JSON.stringify(header) });
    return header;
  });
}

/** Reads a packed file into a freshly built model (eval-mode forward identical to the checkpoint's). */
export function loadPacked(file: string): { model: Model; card: ModelCard } {
  if (fs.existsSync(file) && !isPackedFile(file)) throw new Error(`${file}: not a packed file (no format '${PACKED_FORMAT}' metadata)`);
  return loadModel(file);
}

export interface PackedExport { file: string; bytes: number; layers: PackedLayerSize[] }

/** Library form of `gdnsq export --format packed`: a quantized checkpoint → a packed file. */
export function exportPacked(checkpointFile: string, outFile: string): PackedExport {
  const { model, card } = loadModel(checkpointFile);
  try {
    const header = savePacked(model, card, outFile);
    return { file: outFile, bytes: fs.statSync(outFile).size, layers: packedSizes(header) };
  } catch (e) {
    throw new Error(`${checkpointFile}: ${(e as Error).message}`);
  } finally {
    model.dispose();
  }
}
