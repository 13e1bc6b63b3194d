// The packed format's tensors (docs/packed-format.md): a gdnsq state dict in which the weight
// of every weight-quantized layer is replaced by its integer codes bit-packed at their true
// width plus fp32 per-channel steps and lower bounds. Everything else (activation quantizer
// parameters, BatchNorm, the FP layers, biases) stays as it is in a checkpoint. This file only
// converts between tensors and reads the header; packed.ts builds models and writes files.
import * as fs from 'fs';
import { Tensor, noGrad, scope } from '../engine';
import { decodeSafetensors } from '../engine/safetensors';
import { Module } from '../nn';
import { quantizedLayers } from '../quant';
import { ModelCard } from '../train';
import { pack, unpack, bitsFor, packedBytes, MAX_PACK_BITS } from './bitpack';

/** Metadata key `format` of a packed file, and the version this code reads and writes. */
export const PACKED_FORMAT = 'gdnsq-packed';
export const PACKED_VERSION = 1;

/** One packed weight: its shape, code width, and number of per-channel steps (1 = per tensor). */
export interface PackedLayer { shape: number[]; bits: number; channels: number }
export interface PackedHeader { version: number; layers: Record<string, PackedLayer> }

/** The three tensors that replace `<layer>.weight`. */
export const codesKey = (layer: string): string => `${layer}.weight_codes`;
export const scaleKey = (layer: string): string => `${layer}.weight_scale`;
export const lowerKey = (layer: string): string => `${layer}.weight_lower`;

/**
 * The packed state of a quantized model (tensors in the caller's scope; the other entries are
 * the model's own tensors) and its header. s = 2^log2_step is computed by the same ATen exp2
 * the fake quantizer uses, and lo = the channel's minimum, so code·s + lo gives its bits back.
 */
export function packState(model: Module): { state: Record<string, Tensor>; header: PackedHeader } {
  const state = { ...model.stateDict() };
  const layers: Record<string, PackedLayer> = {};
  noGrad(() => {
    for (const [name, l] of quantizedLayers(model)) {
      const q = l.weight_quant;
      if (!q.enabled) continue;
      const w = l.weight;
      const codes = q.codes(w);
      const [lo, s] = q.isPruned
        ? [w.detach().reshape([q.channels, -1]).amin(1), Tensor.ones([q.channels])]
        : [q.grid(w).lo.reshape([q.channels]), q.log2_step.detach().exp2().reshape([q.channels])];
      const flat = Int32Array.from(codes.to('int32').data() as Int32Array);
      codes.dispose();
      const max = flat.reduce((a, b) => Math.max(a, b), 0);
      if (flat.some((c) => c < 0)) throw new Error(`packed: layer '${name}' has negative weight codes`);
      if (max >= 2 ** MAX_PACK_BITS) {
        throw new Error(`packed: layer '${name}' has weight codes up to ${max} (${bitsFor(max)} bits); the packed format holds at most ${MAX_PACK_BITS}`);
      }
      const bits = bitsFor(max);
      delete state[`${name}.weight`];
      state[codesKey(name)] = Tensor.from(pack(flat, bits), undefined, 'uint8');
      state[scaleKey(name)] = s;
      state[lowerKey(name)] = lo;
      layers[name] = { shape: w.shape, bits, channels: q.channels };
    }
  });
  if (!Object.keys(layers).length) throw new Error('packed: the model has no quantized weights to pack');
  return { state, header: { version: PACKED_VERSION, layers } };
}

/** The codes of a packed layer as a tensor of its weight's shape (uint8). */
export function unpackCodes(state: Record<string, Tensor>, name: string, l: PackedLayer): Tensor {
  const n = l.shape.reduce((a, b) => a * b, 1);
  const bytes = state[codesKey(name)].data() as Uint8Array;
  return Tensor.from(unpack(bytes, n, l.bits), l.shape, 'uint8');
}

/** Replaces each layer's codes/scale/lower by `<layer>.weight` = code·s + lo (float32), disposing them. */
export function unpackState(state: Record<string, Tensor>, header: PackedHeader): Record<string, Tensor> {
  const out = { ...state };
  for (const [name, l] of Object.entries(header.layers)) {
    const w = scope(() => {
      const c = unpackCodes(state, name, l).to('float32').reshape([l.channels, -1]);
      return c.mul(state[scaleKey(name)].reshape([l.channels, 1])).add(state[lowerKey(name)].reshape([l.channels, 1])).reshape(l.shape);
    });
    for (const k of [codesKey(name), scaleKey(name), lowerKey(name)]) { out[k].dispose(); delete out[k]; }
    out[`${name}.weight`] = w;
  }
  return out;
}

/** The safetensors metadata of a file from its header alone; null if it is not safetensors. */
export function peekMetadata(file: string): Record<string, string> | null {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return null; }
  try {
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) !== 8) return null;
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(fs.fstatSync(fd).size - 8) || n > 100_000_000n) return null;
    const json = Buffer.alloc(Number(n));
    fs.readSync(fd, json, 0, json.length, 8);
    const h = JSON.parse(json.toString('utf8')) as { __metadata__?: Record<string, string> };
    return h && typeof h === 'object' && h.__metadata__ && typeof h.__metadata__ === 'object' ? h.__metadata__ : {};
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export function isPackedFile(file: string): boolean {
  return peekMetadata(file)?.format === PACKED_FORMAT;
}

function fail(file: string, msg: string): never { throw new Error(`${file}: not a valid packed file (${msg})`); }

/** Checks the header against the tensors, so a bad file fails with one line before any unpacking. */
export function checkPacked(file: string, meta: Record<string, string>, state: Record<string, Tensor>): { card: ModelCard; header: PackedHeader } {
  if (meta.format !== PACKED_FORMAT) fail(file, `metadata 'format' is ${JSON.stringify(meta.format)}, not '${PACKED_FORMAT}'`);
  let header: PackedHeader, card: ModelCard;
  try {
    header = JSON.parse(meta.packed ?? 'null') as PackedHeader;
    card = JSON.parse(meta.gdnsq ?? 'null') as ModelCard;
  } catch {
    fail(file, "its 'packed' or 'gdnsq' metadata is not JSON");
  }
  if (!card || typeof card !== 'object' || typeof card.model !== 'string') fail(file, 'no model card');
  if (!header || typeof header !== 'object' || !header.layers || typeof header.layers !== 'object') fail(file, "no 'packed' header");
  if (header.version !== PACKED_VERSION) {
    throw new Error(`${file}: packed format version ${JSON.stringify(header.version)} is not supported (this gdnsq reads version ${PACKED_VERSION})`);
  }
  for (const [name, l] of Object.entries(header.layers)) {
    const okShape = Array.isArray(l?.shape) && l.shape.length >= 1 && l.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!okShape || !Number.isInteger(l.bits) || l.bits < 1 || l.bits > MAX_PACK_BITS) fail(file, `layer '${name}' has a bad shape or width`);
    if (!(l.channels === 1 || l.channels === l.shape[0])) fail(file, `layer '${name}' has ${l.channels} steps for ${l.shape[0]} channels`);
    const c = state[codesKey(name)], s = state[scaleKey(name)], lo = state[lowerKey(name)];
    if (!c || !s || !lo) fail(file, `layer '${name}' lacks ${!c ? codesKey(name) : !s ? scaleKey(name) : lowerKey(name)}`);
    const n = l.shape.reduce((a, b) => a * b, 1);
    if (c.dtype !== 'uint8' || c.ndim !== 1 || c.size(0) !== packedBytes(n, l.bits)) {
      fail(file, `${codesKey(name)} must be ${packedBytes(n, l.bits)} uint8 bytes for ${n} codes of ${l.bits} bits, got ${c.dtype} [${c.shape.join(', ')}]`);
    }
    for (const t of [s, lo]) {
      if (t.dtype !== 'float32' || t.ndim !== 1 || t.size(0) !== l.channels) fail(file, `layer '${name}' needs float32 [${l.channels}] steps and lower bounds`);
    }
  }
  return { card, header };
}

/** Reads a packed file: the restored state dict (tensors in the caller's scope) and the card. */
export function readPackedState(file: string): { state: Record<string, Tensor>; card: ModelCard; header: PackedHeader } {
  if (!fs.existsSync(file)) throw new Error(`packed file not found: ${file}`);
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  try {
    const { card, header } = checkPacked(file, metadata, tensors);
    return { state: unpackState(tensors, header), card, header };
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
}
