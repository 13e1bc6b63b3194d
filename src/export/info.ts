// `gdnsq info FILE`: what a model file holds, for each of our formats — a checkpoint (FP or
// quantized), a packed file, or an ONNX file written by gdnsq: the architecture, the per-layer
// weight/activation bits (target and true), parameter counts, bytes on disk against FP32, and
// the model card. Checkpoints and packed files are loaded into a model (so the true bits are
// the codes the layers really produce); ONNX files are only parsed (onnx-summary.ts).
import * as fs from 'fs';
import { quantizerBits, quantizedLayers, QConv2d, weightedMeans, MeanBudget } from '../quant';
import { ModelCard } from '../train';
import { loadModel } from './load';
import { peekMetadata, PACKED_FORMAT } from './packed-format';
import { bitsFor, packedBytes } from './bitpack';
import { readOnnxSummary, OnnxSummary } from './onnx-summary';

export interface LayerInfo {
  name: string;
  type: 'QConv2d' | 'QLinear';
  shape: number[];
  params: number;
  /** true: the widest channel; min: the narrowest (0: a channel with a constant weight). */
  weightBits: { target: number; true: number; min: number } | null;
  /** Activations: true = the grid's capacity (no data is run). */
  actBits: { target: number; true: number; pruned: boolean } | null;
  /** Bytes of the weight as packed codes at its true width plus fp32 steps and lower bounds. */
  packedBytes: number | null;
}

export interface ModelInfo {
  file: string;
  format: 'checkpoint' | 'packed' | 'onnx';
  quantized: boolean;
  model: string;
  args: Record<string, unknown>;
  dataset: string | null;
  /** Learnable parameters of the architecture (quantizer parameters not counted). */
  params: { total: number; quantized: number; fp: number };
  bytes: { file: number; fp32: number; quantizedFp32: number; quantizedPacked: number };
  layers: LayerInfo[];
  /**
   * Size-weighted mean integer bits (ceil of the true bits): weights by parameters; activations
   * by input elements per sample, known when the card records them (null otherwise); and the
   * mean budget the model was fine-tuned under, if any.
   */
  meanBits?: { w: number | null; a: number | null; budget: MeanBudget | null };
  card: ModelCard;
  onnx?: Omit<OnnxSummary, 'metadata'>;
}

const isQuantizerParam = (name: string): boolean => /(^|\.)(act|weight|bias)_quant\./.test(name);

function fromModelFile(file: string, format: 'checkpoint' | 'packed'): ModelInfo {
  const { model, card } = loadModel(file);
  try {
    const total = model.namedParameters().filter(([n]) => !isQuantizerParam(n)).reduce((s, [, t]) => s + t.numel, 0);
    const bits = quantizerBits(model);
    const layers: LayerInfo[] = quantizedLayers(model).map(([name, l]) => {
      const w = bits.find((b) => b.layer === name && b.role === 'weight');
      const a = bits.find((b) => b.layer === name && b.role === 'act');
      const params = l.weight.numel;
      const width = w ? (w.pruned ? 1 : bitsFor(Math.round(2 ** w.trueBits) - 1)) : null;
      return {
        name, type: l instanceof QConv2d ? 'QConv2d' : 'QLinear', shape: l.weight.shape, params,
        weightBits: w ? { target: w.target, true: w.trueBits, min: w.trueMin } : null,
        actBits: a ? { target: a.target, true: a.trueBits, pruned: a.pruned } : null,
        packedBytes: width !== null && width <= 8 ? packedBytes(params, width) + 8 * l.weight_quant.channels : null,
      };
    });
    const packed = layers.filter((l) => l.packedBytes !== null);
    const quant = card.quant as { options?: { budget?: MeanBudget }; act_elements?: Record<string, number> } | undefined;
    const sizes: Record<string, number> = {};
    for (const [name, l] of quantizedLayers(model)) {
      for (const [role, q] of l.quantizers()) {
        if (!q.enabled) continue;
        const n = role === 'act' ? quant?.act_elements?.[name] : (role === 'weight' ? l.weight : l.bias!).numel;
        if (n !== undefined) sizes[`${name}.${role}_quant`] = n;
      }
    }
    const known = bits.filter((b) => sizes[b.name] !== undefined);
    const means = weightedMeans(known, sizes);
    const hasActs = bits.some((b) => b.role === 'act') && bits.filter((b) => b.role === 'act').every((b) => sizes[b.name] !== undefined);
    const quantized = packed.reduce((s, l) => s + l.params, 0);
    return {
      file, format, quantized: bits.length > 0, model: card.model, args: card.args, dataset: card.dataset ?? null,
      params: { total, quantized, fp: total - quantized },
      bytes: {
        file: fs.statSync(file).size, fp32: 4 * total, quantizedFp32: 4 * quantized,
        quantizedPacked: packed.reduce((s, l) => s + l.packedBytes!, 0),
      },
      layers, card,
      ...(bits.length ? { meanBits: { w: means.w.mean, a: hasActs || !bits.some((b) => b.role === 'act') ? means.a.mean : null, budget: quant?.options?.budget ?? null } } : {}),
    };
  } finally {
    model.dispose();
  }
}

function fromOnnx(file: string, buf: Buffer): ModelInfo {
  const s = readOnnxSummary(buf, file);
  const raw = s.metadata.gdnsq;
  if (raw === undefined) {
    throw new Error(`${file}: ONNX file not written by gdnsq (no 'gdnsq' entry in metadata_props; producer '${s.producer}')`);
  }
  let card: ModelCard;
  try { card = JSON.parse(raw) as ModelCard; } catch { throw new Error(`${file}: the ONNX 'gdnsq' metadata is not JSON`); }
  if (!card || typeof card.model !== 'string') throw new Error(`${file}: the ONNX 'gdnsq' metadata is not a model card`);
  const { metadata: _m, ...onnx } = s;
  // Initializers of a quantized graph: the integer codes (sub-byte or 8-bit containers) are
  // the quantized weights; float tensors are the FP layers, BatchNorm, steps and bounds.
  const ints = s.initializers.filter((t) => /^u?int(2|4|8)$/.test(t.dtype) && t.dims.length >= 2);
  const floats = s.initializers.filter((t) => t.dtype === 'float32' && t.dims.length >= 2);
  const quantized = ints.reduce((a, t) => a + t.elements, 0);
  const total = quantized + floats.reduce((a, t) => a + t.elements, 0);
  return {
    file, format: 'onnx', quantized: ints.length > 0, model: card.model, args: card.args ?? {}, dataset: card.dataset ?? null,
    params: { total, quantized, fp: total - quantized },
    bytes: { file: buf.length, fp32: 4 * total, quantizedFp32: 4 * quantized, quantizedPacked: ints.reduce((a, t) => a + t.bytes, 0) },
    layers: [], card, onnx,
  };
}

/** Describes a model file of any gdnsq format; one-line errors for anything else. */
export function modelInfo(file: string): ModelInfo {
  if (!fs.existsSync(file)) throw new Error(`file not found: ${file}`);
  const meta = peekMetadata(file);
  if (meta) {
    if (meta.format === PACKED_FORMAT) return fromModelFile(file, 'packed');
    if (meta.format !== undefined) throw new Error(`${file}: unknown gdnsq format '${meta.format}'`);
    if (meta.gdnsq === undefined) {
      throw new Error(`${file}: safetensors without a gdnsq model card (a PyTorch state dict? bring it in with gdnsq import)`);
    }
    return fromModelFile(file, 'checkpoint');
  }
  const buf = fs.readFileSync(file);
  // An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08.
  if (buf[0] === 0x08) return fromOnnx(file, buf);
  throw new Error(`${file}: not a model file gdnsq knows (neither safetensors nor ONNX)`);
}

const fmtBits = (b: number): string => (b >= 32 ? 'fp' : Number.isInteger(b) ? String(b) : b.toFixed(3));
const kib = (n: number): string => `${n.toLocaleString('en-US')} bytes`;

/** The text `gdnsq info` prints. */
export function formatInfo(i: ModelInfo): string {
  const lines = [`${i.file}: ${i.format}${i.quantized ? ' (quantized)' : ' (FP)'}, ${i.model} ${JSON.stringify(i.args)}${i.dataset ? `, trained on ${i.dataset}` : ''}`];
  lines.push(`parameters: ${i.params.total.toLocaleString('en-US')} (${i.params.quantized.toLocaleString('en-US')} in quantized weights, ${i.params.fp.toLocaleString('en-US')} FP)`);
  lines.push(`bytes: ${kib(i.bytes.file)} on disk; FP32 parameters ${kib(i.bytes.fp32)} (${((100 * i.bytes.file) / i.bytes.fp32).toFixed(1)}% on disk)`);
  if (i.quantized) {
    lines.push(`quantized weights: ${kib(i.bytes.quantizedFp32)} in FP32, ${kib(i.bytes.quantizedPacked)} packed at their true width (${((100 * i.bytes.quantizedPacked) / i.bytes.quantizedFp32).toFixed(2)}%)`);
  }
  if (i.meanBits) {
    const m = i.meanBits, f = (x: number | null): string => (x === null ? '? (no activation sizes in the card)' : fmtBits(Number(x.toFixed(3))));
    const b = m.budget ? ` (budget: mean W ${m.budget.wBits ?? 'per layer'}, A ${m.budget.aBits ?? 'per layer'}, each ≤ ${m.budget.maxBits ?? 8})` : '';
    lines.push(`mean bits (integer widths; weights by parameters, activations by elements per sample): W ${f(m.w)}, A ${f(m.a)}${b}`);
  }
  if (i.layers.length) {
    const w = Math.max(...i.layers.map((l) => l.name.length));
    lines.push(`layers (target → true bits; activation true bits = grid capacity):`);
    for (const l of i.layers) {
      const wb = l.weightBits ? `W ${fmtBits(l.weightBits.target)} → ${fmtBits(l.weightBits.true)}${l.weightBits.min !== l.weightBits.true ? ` (narrowest ${fmtBits(l.weightBits.min)})` : ''}` : 'W fp';
      const ab = l.actBits ? `A ${fmtBits(l.actBits.target)} → ${l.actBits.pruned ? 'pruned' : fmtBits(l.actBits.true)}` : 'A fp';
      lines.push(`  ${l.name.padEnd(w)}  ${l.type.padEnd(7)}  [${l.shape.join(', ')}]  ${wb}  ${ab}`);
    }
  }
  if (i.onnx) {
    const o = i.onnx;
    lines.push(`onnx: ir_version ${o.irVersion}, opsets ${o.opsets.map((s) => `${s.domain || 'ai.onnx'} ${s.version}`).join(', ')}, producer ${o.producer} ${o.producerVersion}`.trimEnd());
    lines.push(`  ops: ${Object.entries(o.ops).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    const byType = new Map<string, { n: number; bytes: number }>();
    for (const t of o.initializers) {
      const e = byType.get(t.dtype) ?? { n: 0, bytes: 0 };
      byType.set(t.dtype, { n: e.n + 1, bytes: e.bytes + t.bytes });
    }
    lines.push(`  initializers: ${[...byType].map(([k, v]) => `${v.n} ${k} (${kib(v.bytes)})`).join(', ')}`);
  }
  // An imported graph's description is data for rebuilding the model, not for reading: summarised.
  const g = i.card.graph as { nodes?: { op: string; module?: string }[]; opset?: number; input?: { shape: number[] } } | undefined;
  if (g && Array.isArray(g.nodes)) {
    const ops = new Map<string, number>();
    for (const n of g.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    lines.push(`graph (imported ONNX, opset ${g.opset}): ${g.nodes.length} nodes, input [N, ${g.input?.shape.join(', ')}]; ${[...ops].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  lines.push(`card: ${JSON.stringify(g ? { ...i.card, graph: `(${g.nodes?.length ?? 0} nodes)` } : i.card)}`);
  return lines.join('\n');
}
