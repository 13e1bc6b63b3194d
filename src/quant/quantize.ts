// quantize(model): step 2 of the procedure (GDNSQ.md §4). Swaps Conv2d/Linear layers in place
// for QConv2d/QLinear (same weights, quantizers beside them) and applies the BatchNorm mode.
// Defaults match the published runs: first conv, last linear and 1×1 shortcut convs stay FP,
// biases are not quantized, BatchNorm is kept, weights are quantized per output channel.
// Whether a layer's input is signed is not decided here: calibrate() makes an activation
// quantizer unsigned (b fixed at 0) when its input never went below 0 on the calibration data
// (every quantized ResNet layer but a quantized first conv), and reports it.
import { Module, Conv2d, Linear, BatchNorm2d, Identity } from '../nn';
import { Quantizer, QuantMethod, FP_BITS, checkBits, checkQuantMethod } from './quantizer';
import { QuantizedLayer } from './qlayer';
import { QConv2d } from './qconv2d';
import { QLinear } from './qlinear';
import { FrozenBatchNorm2d } from './frozen-batchnorm';
import { foldBatchNorm, convBnPairs } from './bn-fuse';
import { MeanBudget, checkMeanBudget, budgeted } from './mean-budget';

export type BnMode = 'keep' | 'freeze' | 'fuse';
export const BN_MODES: readonly BnMode[] = ['keep', 'freeze', 'fuse'];

export interface LayerBits { wBits?: number; aBits?: number }

export interface QuantizeOptions {
  /** Target bits of weights and of layer inputs; any positive number, 32 = not quantized. */
  wBits: number;
  aBits: number;
  /** Per-layer targets by module path; a layer listed here is quantized even if a default rule would keep it FP. */
  layers?: Record<string, LayerBits>;
  /** Module paths kept FP whatever else says. */
  exclude?: string[];
  quantizeFirst?: boolean;
  quantizeLast?: boolean;
  quantizeShortcuts?: boolean;
  perChannel?: boolean;
  /** Quantize biases too (per tensor, to the layer's weight bits). */
  quantizeBias?: boolean;
  bn?: BnMode;
  /** Step-gradient variant of the weight quantizers (default 'noise'). */
  method?: QuantMethod;
  /**
   * Variant of the activation quantizers (default 'noise': the authors' code applies
   * lsq/ewgs/aewgs to weights only, GDNSQ.md §8).
   */
  actMethod?: QuantMethod;
  delta?: number;
  /** B_w passes its gradient to the extreme weights (default true, as the reference). */
  weightRangeGrad?: boolean;
  /**
   * Learn every activation lower bound, also for non-negative inputs (the reference; default
   * true: 10 epochs W1A1 81.58 % against 72.71 % with b fixed at 0, experiments/descent).
   */
  learnLower?: boolean;
  /** Bit-width the weight steps start from before calibration (default 10). */
  startBits?: number;
  /**
   * A size budget (mean-budget.ts): the groups it names are held to a mean bit-width, their
   * quantizers start with the cap (maxBits) as target and get their integer allocation as
   * target when the fine-tuning measures them.
   */
  budget?: MeanBudget;
}

export interface QuantizedLayerInfo {
  name: string;
  type: 'QConv2d' | 'QLinear';
  wBits: number;
  aBits: number;
  perChannel: boolean;
  bias: 'none' | 'fp' | 'quantized';
}

export type FpReason = 'first conv' | 'last linear' | 'shortcut' | 'excluded';

/** What quantize() did, printable with toString(). */
export class QuantizeReport {
  constructor(
    readonly layers: QuantizedLayerInfo[],
    readonly fp: { name: string; reason: FpReason }[],
    readonly bn: BnMode,
    /** bn 'fuse': the folded pairs as 'conv+bn'; bn 'freeze': the frozen BNs. */
    readonly bnLayers: string[],
    readonly method: QuantMethod,
  ) {}

  toString(): string {
    const fmt = (b: number): string => (b >= FP_BITS ? 'fp' : String(b));
    const lines = [`quantized ${this.layers.length} layers (method ${this.method}, BatchNorm ${this.bn}):`];
    const width = Math.max(0, ...this.layers.map((l) => l.name.length));
    for (const l of this.layers) {
      lines.push(`  ${l.name.padEnd(width)}  ${l.type.padEnd(7)}  W${fmt(l.wBits)}A${fmt(l.aBits)}  ` +
        `${l.perChannel ? 'per-channel' : 'per-tensor'}  bias ${l.bias}`);
    }
    if (this.fp.length) lines.push(`kept FP: ${this.fp.map((f) => `${f.name} (${f.reason})`).join(', ')}`);
    if (this.bnLayers.length) lines.push(`BatchNorm ${this.bn === 'fuse' ? 'folded into the preceding conv' : 'frozen'}: ${this.bnLayers.join(', ')}`);
    return lines.join('\n');
  }
}

function checkOptions(o: QuantizeOptions): void {
  checkBits(o.wBits, 'quantize: wBits');
  checkBits(o.aBits, 'quantize: aBits');
  for (const [name, lb] of Object.entries(o.layers ?? {})) {
    if (lb.wBits !== undefined) checkBits(lb.wBits, `quantize: layers['${name}'].wBits`);
    if (lb.aBits !== undefined) checkBits(lb.aBits, `quantize: layers['${name}'].aBits`);
  }
  if (o.bn !== undefined && !BN_MODES.includes(o.bn)) throw new Error(`quantize: unknown bn mode '${String(o.bn)}' (${BN_MODES.join(', ')})`);
  if (o.method !== undefined) checkQuantMethod(o.method);
  if (o.actMethod !== undefined) checkQuantMethod(o.actMethod);
  if (o.startBits !== undefined) checkBits(o.startBits, 'quantize: startBits');
  if (o.budget !== undefined) {
    checkMeanBudget(o.budget, 'quantize: budget');
    if (o.layers && Object.keys(o.layers).length) throw new Error('quantize: a mean bit-width budget and per-layer targets (layers) do not combine: the budget chooses the per-layer bits');
  }
}

const isShortcut = (name: string, m: Conv2d): boolean =>
  m.kernelSize[0] === 1 && m.kernelSize[1] === 1 && /(^|\.)(downsample|shortcut)(\.|$)/.test(name);

/** The model's Conv2d/Linear layers that quantize() will swap, and why the others stay FP. */
function plan(model: Module, o: QuantizeOptions): { swap: string[]; fp: { name: string; reason: FpReason }[] } {
  if (model.modules().some((m) => m instanceof QuantizedLayer)) throw new Error('quantize: the model is already quantized');
  const candidates = model.namedModules().filter(([, m]) => m instanceof Conv2d || m instanceof Linear);
  const names = new Set(candidates.map(([n]) => n));
  const unknown = [...Object.keys(o.layers ?? {}), ...(o.exclude ?? [])].filter((n) => !names.has(n));
  if (unknown.length) {
    throw new Error(`quantize: no Conv2d/Linear layer named ${unknown.map((n) => `'${n}'`).join(', ')} (layers: ${[...names].join(', ')})`);
  }
  const firstConv = candidates.find(([, m]) => m instanceof Conv2d)?.[0];
  const lastLinear = [...candidates].reverse().find(([, m]) => m instanceof Linear)?.[0];
  const swap: string[] = [];
  const fp: { name: string; reason: FpReason }[] = [];
  for (const [name, m] of candidates) {
    let reason: FpReason | null = null;
    if (o.exclude?.includes(name)) reason = 'excluded';
    else if (o.layers && name in o.layers) reason = null;
    else if (name === firstConv && !o.quantizeFirst) reason = 'first conv';
    else if (name === lastLinear && !o.quantizeLast) reason = 'last linear';
    else if (m instanceof Conv2d && isShortcut(name, m) && !o.quantizeShortcuts) reason = 'shortcut';
    if (reason) fp.push({ name, reason });
    else swap.push(name);
  }
  return { swap, fp };
}

function applyBn(model: Module, mode: BnMode): string[] {
  if (mode === 'keep') return [];
  if (mode === 'freeze') {
    const bns = model.namedModules().filter(([, m]) => m instanceof BatchNorm2d && !(m instanceof FrozenBatchNorm2d));
    for (const [name, m] of bns) model.setSubmodule(name, new FrozenBatchNorm2d(m as BatchNorm2d).train(m.training));
    return bns.map(([n]) => n);
  }
  const { pairs, unpaired } = convBnPairs(model);
  if (unpaired.length) {
    throw new Error(`quantize: bn 'fuse' cannot find the convolution before ${unpaired.join(', ')} (expected a sibling convK for bnK, or the previous module of a Sequential)`);
  }
  for (const [convName, bnName] of pairs) {
    const bn = model.getSubmodule(bnName) as BatchNorm2d;
    foldBatchNorm(model.getSubmodule(convName) as Conv2d, bn);
    model.setSubmodule(bnName, new Identity().train(bn.training));
    bn.dispose();
  }
  return pairs.map(([c, b]) => `${c}+${b}`);
}

/**
 * Quantizes the model in place and says what it did. Weight quantizers start at `startBits`
 * from the weights' range; activation quantizers need calibrate() before fine-tuning.
 */
export function quantize(model: Module, o: QuantizeOptions): QuantizeReport {
  checkOptions(o);
  const method = o.method ?? 'noise';
  const actMethod = o.actMethod ?? 'noise';
  const rangeGrad = o.weightRangeGrad ?? true;
  const perChannel = o.perChannel ?? true;
  const startBits = o.startBits ?? 10;
  const bnMode = o.bn ?? 'keep';
  const { swap, fp } = plan(model, o);
  const bnLayers = applyBn(model, bnMode);
  const layers: QuantizedLayerInfo[] = [];
  for (const name of swap) {
    const m = model.getSubmodule(name) as Conv2d | Linear;
    const cap = o.budget ? checkMeanBudget(o.budget).maxBits : 0;
    const wBits = budgeted(o.budget, 'w') ? cap : o.layers?.[name]?.wBits ?? o.wBits;
    const aBits = budgeted(o.budget, 'a') ? cap : o.layers?.[name]?.aBits ?? o.aBits;
    const channels = perChannel ? m.weight.size(0) : 1;
    const weight = new Quantizer({ kind: 'weight', bits: wBits, channels, method, delta: o.delta, rangeGrad });
    const act = new Quantizer({ kind: 'activation', bits: aBits, method: actMethod, delta: o.delta, learnLower: o.learnLower ?? true });
    const bias = o.quantizeBias && m.bias ? new Quantizer({ kind: 'weight', bits: wBits, method, delta: o.delta, rangeGrad }) : null;
    weight.calibrateWeight(m.weight, startBits);
    if (bias) bias.calibrateWeight(m.bias!, startBits);
    const q = m instanceof Conv2d ? new QConv2d(m, { act, weight, bias }) : new QLinear(m as Linear, { act, weight, bias });
    model.setSubmodule(name, q.train(m.training));
    layers.push({
      name, type: m instanceof Conv2d ? 'QConv2d' : 'QLinear', wBits, aBits, perChannel,
      bias: m.bias ? (bias ? 'quantized' : 'fp') : 'none',
    });
  }
  return new QuantizeReport(layers, fp, bnMode, bnLayers, method);
}
