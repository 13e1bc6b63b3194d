// The common part of QConv2d and QLinear: an activation quantizer in front of a layer whose
// weight (and optionally bias) is quantized (GDNSQ.md §2). The layer takes over the original
// layer's tensors under the same names (`weight`, `bias`), so state dicts stay torchvision-like
// with the quantizers beside them (`act_quant.*`, `weight_quant.*`, `bias_quant.*`).
import { Tensor } from '../engine';
import { Module } from '../nn';
import { Quantizer } from './quantizer';

export interface LayerQuantizers {
  act: Quantizer;
  weight: Quantizer;
  /** Bias quantizer (off by default, as in the paper); needs a bias. */
  bias?: Quantizer | null;
}

export abstract class QuantizedLayer extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  declare act_quant: Quantizer;
  declare weight_quant: Quantizer;
  declare bias_quant?: Quantizer;

  protected constructor(weight: Tensor, bias: Tensor | null, q: LayerQuantizers) {
    super();
    if (q.act.kind !== 'activation') throw new Error(`${this.constructor.name}: the input quantizer must be an activation quantizer`);
    if (q.weight.kind !== 'weight' || (q.bias && q.bias.kind !== 'weight')) {
      throw new Error(`${this.constructor.name}: weight and bias quantizers must be weight quantizers`);
    }
    if (q.bias && !bias) throw new Error(`${this.constructor.name}: a bias quantizer was given but the layer has no bias`);
    this.registerParameter('weight', weight, weight.requiresGrad);
    this.registerParameter('bias', bias, bias?.requiresGrad ?? true);
    this.registerModule('act_quant', q.act);
    this.registerModule('weight_quant', q.weight);
    if (q.bias) this.registerModule('bias_quant', q.bias);
  }

  /** Every quantizer of the layer with its role. */
  quantizers(): [role: 'act' | 'weight' | 'bias', q: Quantizer][] {
    const out: ['act' | 'weight' | 'bias', Quantizer][] = [['act', this.act_quant], ['weight', this.weight_quant]];
    if (this.bias_quant) out.push(['bias', this.bias_quant]);
    return out;
  }

  /** The input, weight and bias as the layer's op sees them in this call. */
  protected quantizedOperands(x: Tensor): { x: Tensor; w: Tensor; b: Tensor | null } {
    const b = this.bias && this.bias_quant ? this.bias_quant.forward(this.bias) : this.bias;
    return { x: this.act_quant.forward(x), w: this.weight_quant.forward(this.weight), b };
  }
}

/** Every quantized layer of a model with its module path, in model order. */
export function quantizedLayers(model: Module): [string, QuantizedLayer][] {
  return model.namedModules().filter((e): e is [string, QuantizedLayer] => e[1] instanceof QuantizedLayer);
}
